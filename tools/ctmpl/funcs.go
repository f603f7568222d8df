package main

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/template"
)

// consulFuncs are the template functions that read Consul. They read the
// pass that is current while the template executes.
type consulFuncs struct {
	pass    *renderPass
	scratch *Scratch // fresh for every execution, as in consul-template
}

func (f *consulFuncs) funcMap() template.FuncMap {
	return template.FuncMap{
		"services":     f.services,
		"service":      f.service,
		"key":          f.key,
		"keyOrDefault": f.keyOrDefault,
		"ls":           f.ls,
		"tree":         f.tree,
		"scratch":      func() *Scratch { return f.scratch },
	}
}

// services lists the catalog: [{Name, Tags}] sorted by name.
func (f *consulFuncs) services(args ...string) ([]*CatalogSnippet, error) {
	query, err := parseCatalogServicesQuery(args)
	if err != nil {
		return nil, err
	}
	data, ok := f.pass.recall(query)
	if !ok {
		return []*CatalogSnippet{}, nil
	}
	return data.([]*CatalogSnippet), nil
}

// service lists instances of "[tag.]name[|filter]"; extra arguments are
// filters, as in `service "web" "any"`.
func (f *consulFuncs) service(args ...string) ([]*HealthService, error) {
	if len(args) == 0 || args[0] == "" {
		return nil, fmt.Errorf("service: want a service name")
	}
	query, err := parseHealthServiceQuery(strings.Join(args, "|"))
	if err != nil {
		return nil, err
	}
	data, ok := f.pass.recall(query)
	if !ok {
		return []*HealthService{}, nil
	}
	return data.([]*HealthService), nil
}

// key answers the value of a key and holds the template back until the key
// exists, as consul-template does.
func (f *consulFuncs) key(name string) (string, error) {
	path, err := parseKVKey("key", name)
	if err != nil {
		return "", err
	}
	query := &KVGetQuery{Key: path}
	data, ok := f.pass.recall(query)
	if !ok {
		return "", nil
	}
	value := data.(kvValue)
	if !value.Exists {
		f.pass.stillMissing(query)
	}
	return value.Value, nil
}

// keyOrDefault never holds the template back: a missing key gives fallback.
func (f *consulFuncs) keyOrDefault(name, fallback string) (string, error) {
	path, err := parseKVKey("keyOrDefault", name)
	if err != nil {
		return "", err
	}
	data, ok := f.pass.recall(&KVGetQuery{Key: path})
	if !ok || !data.(kvValue).Exists {
		return fallback, nil
	}
	return data.(kvValue).Value, nil
}

func (f *consulFuncs) listPrefix(prefix string) []*KeyPair {
	query := &KVListQuery{Prefix: strings.TrimPrefix(prefix, "/")}
	data, ok := f.pass.recall(query)
	if !ok {
		return nil
	}
	return data.([]*KeyPair)
}

// ls lists the keys directly under prefix (no deeper ones, no folders).
func (f *consulFuncs) ls(prefix string) []*KeyPair {
	result := []*KeyPair{}
	for _, pair := range f.listPrefix(prefix) {
		if pair.Key != "" && !strings.Contains(pair.Key, "/") {
			result = append(result, pair)
		}
	}
	return result
}

// tree lists every key under prefix, leaving out folder placeholders.
func (f *consulFuncs) tree(prefix string) []*KeyPair {
	result := []*KeyPair{}
	for _, pair := range f.listPrefix(prefix) {
		if pair.Key != "" && !strings.HasSuffix(pair.Key, "/") {
			result = append(result, pair)
		}
	}
	return result
}

// helperFuncs are the pure functions; consul-template's argument order puts
// the input last so they read well in pipes.
func helperFuncs() template.FuncMap {
	return template.FuncMap{
		"regexReplaceAll": regexReplaceAll,
		"regexMatch":      regexMatch,
		"replaceAll":      replaceAll,
		"toLower":         strings.ToLower,
		"toUpper":         strings.ToUpper,
		"trimSpace":       strings.TrimSpace,
		"contains":        contains,
		"in":              in,
		"split":           split,
		"join":            join,
		"parseInt":        parseInt,
		"env":             os.Getenv,
		"byTag":           byTag,
	}
}

// compiledPatterns caches regexps: templates apply the same few patterns to
// every service and tag.
var compiledPatterns sync.Map

func compilePattern(pattern string) (*regexp.Regexp, error) {
	if cached, ok := compiledPatterns.Load(pattern); ok {
		return cached.(*regexp.Regexp), nil
	}
	compiled, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("bad regular expression %q: %v", pattern, err)
	}
	compiledPatterns.Store(pattern, compiled)
	return compiled, nil
}

func regexReplaceAll(pattern, replacement, input string) (string, error) {
	compiled, err := compilePattern(pattern)
	if err != nil {
		return "", err
	}
	return compiled.ReplaceAllString(input, replacement), nil
}

func regexMatch(pattern, input string) (bool, error) {
	compiled, err := compilePattern(pattern)
	if err != nil {
		return false, err
	}
	return compiled.MatchString(input), nil
}

func replaceAll(old, replacement, input string) string {
	return strings.ReplaceAll(input, old, replacement)
}

// contains is `list | contains value`: does list (or a string) hold value.
func contains(value, list any) (bool, error) {
	return in(list, value)
}

// in reports whether value is an element of a list, or a substring of a string.
func in(list, value any) (bool, error) {
	listValue := reflect.ValueOf(list)
	switch listValue.Kind() {
	case reflect.Slice, reflect.Array:
		for i := 0; i < listValue.Len(); i++ {
			if sameValue(listValue.Index(i), reflect.ValueOf(value)) {
				return true, nil
			}
		}
		return false, nil
	case reflect.String:
		text, ok := value.(string)
		if !ok {
			return false, fmt.Errorf("in: cannot look for %T in a string", value)
		}
		return strings.Contains(listValue.String(), text), nil
	case reflect.Invalid:
		return false, nil
	default:
		return false, fmt.Errorf("in: cannot search a %T", list)
	}
}

// sameValue compares strings by content whatever their named type, so a
// ServiceTags element matches a plain string.
func sameValue(element, value reflect.Value) bool {
	for element.Kind() == reflect.Interface && !element.IsNil() {
		element = element.Elem()
	}
	if !value.IsValid() || !element.IsValid() {
		return false
	}
	if element.Kind() == reflect.String && value.Kind() == reflect.String {
		return element.String() == value.String()
	}
	return element.CanInterface() && reflect.DeepEqual(element.Interface(), value.Interface())
}

func split(separator, input string) []string {
	input = strings.TrimSpace(input)
	if input == "" {
		return []string{}
	}
	return strings.Split(input, separator)
}

func join(separator string, list []string) string {
	return strings.Join(list, separator)
}

func parseInt(input string) (int64, error) {
	input = strings.TrimSpace(input)
	if input == "" {
		return 0, nil
	}
	result, err := strconv.ParseInt(input, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parseInt: %q is not an integer", input)
	}
	return result, nil
}

// byTag groups services or instances by each of their tags; ranging over
// the map visits tags in sorted order.
func byTag(input any) (any, error) {
	switch items := input.(type) {
	case []*HealthService:
		return groupByTag(items), nil
	case []*CatalogSnippet:
		return groupByTag(items), nil
	default:
		return nil, fmt.Errorf("byTag: cannot group %T (want the result of service or services)", input)
	}
}

func groupByTag[T tagged](items []T) map[string][]T {
	groups := map[string][]T{}
	for _, item := range items {
		for _, tag := range item.tagList() {
			groups[tag] = append(groups[tag], item)
		}
	}
	return groups
}

// sortedKeys is used by tests and logs to print maps deterministically.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for key := range m {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	return keys
}

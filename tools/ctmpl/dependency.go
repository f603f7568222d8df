package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// Dependency is one Consul query a template reads. Two template calls that
// need the same data share one dependency through ID.
type Dependency interface {
	ID() string
	Fetch(ctx context.Context, client *ConsulClient, opts QueryOptions) (any, QueryMeta, error)
}

const (
	healthAny         = "any"
	healthPassing     = "passing"
	healthWarning     = "warning"
	healthCritical    = "critical"
	healthMaintenance = "maintenance"

	nodeMaintenanceCheck     = "_node_maintenance"
	serviceMaintenancePrefix = "_service_maintenance:"
)

// serviceQueryPattern is consul-template's grammar: [tag.]name[@dc][|filters].
// Names hold no dot, so the tag is everything before the last one.
var serviceQueryPattern = regexp.MustCompile(
	`\A(?:(?P<tag>[[:word:]=:.\-]+)\.)?(?P<name>[[:word:]\-]+)(?:@(?P<dc>[[:word:].\-]+))?(?:\|(?P<filter>[[:word:],\s]+))?\z`)

// HealthServiceQuery backs `service`: /v1/health/service/<name>.
type HealthServiceQuery struct {
	Name       string
	Tag        string
	Datacenter string
	Filters    []string // sorted; ["passing"] by default
}

func parseHealthServiceQuery(text string) (*HealthServiceQuery, error) {
	match := serviceQueryPattern.FindStringSubmatch(text)
	if match == nil {
		return nil, fmt.Errorf("service %q: want [tag.]name[@datacenter][|filter,...]", text)
	}
	group := func(name string) string { return match[serviceQueryPattern.SubexpIndex(name)] }
	query := &HealthServiceQuery{Name: group("name"), Tag: group("tag"), Datacenter: group("dc")}
	filters, err := parseHealthFilters(group("filter"))
	if err != nil {
		return nil, fmt.Errorf("service %q: %v", text, err)
	}
	query.Filters = filters
	return query, nil
}

func parseHealthFilters(text string) ([]string, error) {
	if strings.TrimSpace(text) == "" {
		return []string{healthPassing}, nil
	}
	seen := map[string]bool{}
	for _, raw := range strings.Split(text, ",") {
		filter := strings.TrimSpace(raw)
		switch filter {
		case healthAny, healthPassing, healthWarning, healthCritical, healthMaintenance:
			seen[filter] = true
		default:
			return nil, fmt.Errorf("unknown health filter %q (any, passing, warning, critical, maintenance)", filter)
		}
	}
	if seen[healthAny] && len(seen) > 1 {
		return nil, fmt.Errorf("health filter %q cannot be combined with others", healthAny)
	}
	filters := make([]string, 0, len(seen))
	for filter := range seen {
		filters = append(filters, filter)
	}
	sort.Strings(filters)
	return filters, nil
}

func (q *HealthServiceQuery) ID() string {
	id := "health.service(" + q.Name
	if q.Tag != "" {
		id = "health.service(" + q.Tag + "." + q.Name
	}
	if q.Datacenter != "" {
		id += "@" + q.Datacenter
	}
	return id + "|" + strings.Join(q.Filters, ",") + ")"
}

// passingOnly lets Consul drop unhealthy instances server-side.
func (q *HealthServiceQuery) passingOnly() bool {
	return len(q.Filters) == 1 && q.Filters[0] == healthPassing
}

type healthEntry struct {
	Node struct {
		ID         string
		Node       string
		Address    string
		Datacenter string
		Meta       map[string]string
	}
	Service struct {
		ID      string
		Service string
		Tags    []string
		Address string
		Port    int
		Meta    map[string]string
	}
	Checks []healthCheck
}

type healthCheck struct {
	CheckID string
	Status  string
}

func (q *HealthServiceQuery) Fetch(ctx context.Context, client *ConsulClient, opts QueryOptions) (any, QueryMeta, error) {
	query := url.Values{}
	if q.Tag != "" {
		query.Set("tag", q.Tag)
	}
	if q.Datacenter != "" {
		query.Set("dc", q.Datacenter)
	}
	if q.passingOnly() {
		query.Set("passing", "")
	}
	path := "/v1/health/service/" + url.PathEscape(q.Name)
	body, meta, err := client.Get(ctx, path, query, opts)
	if err != nil {
		return nil, meta, err
	}
	var entries []healthEntry
	if err := decodeBody(path, body, &entries); err != nil {
		return nil, meta, err
	}
	return q.instances(entries), meta, nil
}

// instances keeps the entries whose aggregated status the filters accept,
// sorted by node then ID so the rendered file is stable.
func (q *HealthServiceQuery) instances(entries []healthEntry) []*HealthService {
	result := make([]*HealthService, 0, len(entries))
	for _, entry := range entries {
		status := aggregatedStatus(entry.Checks)
		if !acceptsStatus(q.Filters, status) {
			continue
		}
		address := entry.Service.Address
		if address == "" {
			address = entry.Node.Address
		}
		result = append(result, &HealthService{
			Node:           entry.Node.Node,
			NodeID:         entry.Node.ID,
			NodeAddress:    entry.Node.Address,
			NodeDatacenter: entry.Node.Datacenter,
			NodeMeta:       entry.Node.Meta,
			Address:        address,
			ID:             entry.Service.ID,
			Name:           entry.Service.Service,
			Tags:           sortedTags(entry.Service.Tags),
			Port:           entry.Service.Port,
			ServiceMeta:    entry.Service.Meta,
			Status:         status,
		})
	}
	sort.SliceStable(result, func(i, j int) bool {
		if result[i].Node != result[j].Node {
			return result[i].Node < result[j].Node
		}
		return result[i].ID < result[j].ID
	})
	return result
}

// aggregatedStatus follows Consul's rule: maintenance beats critical beats
// warning beats passing; no checks at all counts as passing.
func aggregatedStatus(checks []healthCheck) string {
	var warning, critical, maintenance bool
	for _, check := range checks {
		if check.CheckID == nodeMaintenanceCheck || strings.HasPrefix(check.CheckID, serviceMaintenancePrefix) {
			maintenance = true
			continue
		}
		switch check.Status {
		case healthPassing:
		case healthWarning:
			warning = true
		case healthCritical:
			critical = true
		default:
			// An unknown status is never treated as healthy.
			critical = true
		}
	}
	switch {
	case maintenance:
		return healthMaintenance
	case critical:
		return healthCritical
	case warning:
		return healthWarning
	default:
		return healthPassing
	}
}

func acceptsStatus(filters []string, status string) bool {
	for _, filter := range filters {
		if filter == healthAny || filter == status {
			return true
		}
	}
	return false
}

// CatalogServicesQuery backs `services`: /v1/catalog/services.
type CatalogServicesQuery struct {
	Datacenter string
}

func parseCatalogServicesQuery(args []string) (*CatalogServicesQuery, error) {
	switch {
	case len(args) == 0:
		return &CatalogServicesQuery{}, nil
	case len(args) == 1 && strings.HasPrefix(args[0], "@") && len(args[0]) > 1:
		return &CatalogServicesQuery{Datacenter: args[0][1:]}, nil
	default:
		return nil, fmt.Errorf("services %q: want no argument or \"@datacenter\"", strings.Join(args, " "))
	}
}

func (q *CatalogServicesQuery) ID() string { return "catalog.services(@" + q.Datacenter + ")" }

func (q *CatalogServicesQuery) Fetch(ctx context.Context, client *ConsulClient, opts QueryOptions) (any, QueryMeta, error) {
	query := url.Values{}
	if q.Datacenter != "" {
		query.Set("dc", q.Datacenter)
	}
	const path = "/v1/catalog/services"
	body, meta, err := client.Get(ctx, path, query, opts)
	if err != nil {
		return nil, meta, err
	}
	var catalog map[string][]string
	if err := decodeBody(path, body, &catalog); err != nil {
		return nil, meta, err
	}
	result := make([]*CatalogSnippet, 0, len(catalog))
	for name, tags := range catalog {
		result = append(result, &CatalogSnippet{Name: name, Tags: sortedTags(tags)})
	}
	sortCatalog(result)
	return result, meta, nil
}

func sortCatalog(services []*CatalogSnippet) {
	sort.Slice(services, func(i, j int) bool { return services[i].Name < services[j].Name })
}

func decodeBody(path string, body []byte, target any) error {
	if err := json.Unmarshal(body, target); err != nil {
		return fmt.Errorf("consul GET %s: unexpected answer: %v", path, err)
	}
	return nil
}

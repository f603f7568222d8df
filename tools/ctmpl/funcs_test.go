package main

import (
	"strings"
	"testing"
)

// articlePort is the article's pattern that pulls the port out of
// "<name>-<port>" service names and "internal-listen-http-<port>" tags.
const articlePort = `^[\w-]+?(\d*)$`

func TestRegexReplaceAllArticlePattern(t *testing.T) {
	cases := map[string]string{
		"test-server-8080":          "8080",
		"internal-listen-http-8080": "8080",
		"test-server":               "",
		"api-v2-9000":               "9000",
		"web2":                      "2",
		"balance-roundrobin":        "",
		"":                          "",
	}
	for input, want := range cases {
		got, err := regexReplaceAll(articlePort, "$1", input)
		if err != nil || got != want {
			t.Errorf("regexReplaceAll(%q) = %q, %v; want %q", input, got, err, want)
		}
	}
}

func TestRegexReplaceAllReplacesEveryMatchAndExpandsGroups(t *testing.T) {
	got, err := regexReplaceAll(`(\w+)-(\d+)`, "${2}_$1", "a-1 b-22")
	if err != nil || got != "1_a 22_b" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestRegexFunctionsRejectBadPatternByName(t *testing.T) {
	if _, err := regexReplaceAll(`(unclosed`, "", "x"); err == nil || !strings.Contains(err.Error(), "(unclosed") {
		t.Fatalf("want an error naming the pattern, got %v", err)
	}
	// RE2 has no look-ahead; the error must say the pattern is bad.
	if _, err := regexMatch(`a(?=b)`, "ab"); err == nil {
		t.Fatal("look-ahead should not compile under RE2")
	}
}

func TestRegexMatchIsUnanchored(t *testing.T) {
	cases := []struct {
		pattern, input string
		want           bool
	}{
		{`internal-listen-http-\d+`, "internal-listen-http-8080", true},
		{`internal-listen-http-\d+`, "x-internal-listen-http-80-y", true},
		{`internal-listen-http-\d+`, "internal-listen-tcp-8080", false},
		{`^balance-(roundrobin|leastconn)$`, "balance-leastconn", true},
	}
	for _, c := range cases {
		got, err := regexMatch(c.pattern, c.input)
		if err != nil || got != c.want {
			t.Errorf("regexMatch(%q, %q) = %v, %v", c.pattern, c.input, got, err)
		}
	}
}

func TestStringHelpers(t *testing.T) {
	if got := replaceAll("internal-listen-http-", "", "internal-listen-http-8080"); got != "8080" {
		t.Errorf("replaceAll = %q", got)
	}
	if got := split(",", " a,b,,c "); strings.Join(got, "|") != "a|b||c" {
		t.Errorf("split = %q", got)
	}
	if got := split(",", "   "); len(got) != 0 {
		t.Errorf("split of blank = %q, want empty", got)
	}
	if got := join("-", []string{"a", "b"}); got != "a-b" {
		t.Errorf("join = %q", got)
	}
}

func TestParseInt(t *testing.T) {
	if got, err := parseInt(" 42 "); err != nil || got != 42 {
		t.Errorf("parseInt(42) = %d, %v", got, err)
	}
	if got, err := parseInt(""); err != nil || got != 0 {
		t.Errorf("parseInt('') = %d, %v", got, err)
	}
	if _, err := parseInt("4k"); err == nil || !strings.Contains(err.Error(), `"4k"`) {
		t.Errorf("parseInt(4k) error = %v", err)
	}
}

func TestContainsAndIn(t *testing.T) {
	tags := ServiceTags{"production", "internal-listen-http-80"}
	cases := []struct {
		list, value any
		want        bool
	}{
		{tags, "production", true},
		{tags, "staging", false},
		{[]string{"a"}, "a", true},
		{[]int{1, 2}, 2, true},
		{"haystack", "st", true},
		{"haystack", "needle", false},
		{nil, "x", false},
	}
	for _, c := range cases {
		got, err := contains(c.value, c.list)
		if err != nil || got != c.want {
			t.Errorf("contains(%v, %v) = %v, %v", c.value, c.list, got, err)
		}
	}
	if _, err := in(42, "x"); err == nil {
		t.Error("in over an int should fail")
	}
}

func TestServiceTagsMethods(t *testing.T) {
	tags := ServiceTags{"a", "b"}
	if !tags.Contains("a") || tags.Contains("c") {
		t.Error("Contains")
	}
	if !tags.ContainsAll([]string{"a", "b"}) || tags.ContainsAll([]string{"a", "c"}) {
		t.Error("ContainsAll")
	}
	if !tags.ContainsAny([]string{"c", "b"}) || tags.ContainsAny([]string{"c"}) {
		t.Error("ContainsAny")
	}
}

func TestByTagGroupsInstancesAndRejectsOtherTypes(t *testing.T) {
	instances := []*HealthService{
		{ID: "1", Tags: ServiceTags{"production", "web"}},
		{ID: "2", Tags: ServiceTags{"staging", "web"}},
	}
	grouped, err := byTag(instances)
	if err != nil {
		t.Fatal(err)
	}
	groups := grouped.(map[string][]*HealthService)
	if len(groups["web"]) != 2 || len(groups["production"]) != 1 || groups["staging"][0].ID != "2" {
		t.Errorf("groups = %v", groups)
	}
	if _, err := byTag("nope"); err == nil {
		t.Error("byTag of a string should fail")
	}
}

func TestPipelinesUseInputLast(t *testing.T) {
	source := `{{ "internal-listen-http-8080" | regexReplaceAll "^[\\w-]+?(\\d*)$" "$1" }}` +
		` {{ "A-b" | toLower | replaceAll "-" "_" }}` +
		` {{ if "internal-listen-http-80" | regexMatch "internal-listen-http-\\d+" }}yes{{ end }}` +
		` {{ print "x" 1 }} {{ "a,b" | split "," | join "+" }} {{ "  7 " | trimSpace | parseInt }}`
	got := renderString(t, source, NewBrain())
	if want := "8080 a_b yes x1 a+b 7"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestEnvFunction(t *testing.T) {
	t.Setenv("CTMPL_TEST_VALUE", "from-env")
	if got := renderString(t, `{{ env "CTMPL_TEST_VALUE" }}`, NewBrain()); got != "from-env" {
		t.Fatalf("got %q", got)
	}
}

func TestUnknownFunctionIsParseErrorNamingItAndLine(t *testing.T) {
	_, err := parseTemplate(TemplateSpec{Source: "haproxy.ctmpl", Destination: "out"}, "ok\n\n{{ nosuchfunc \"x\" }}\n")
	if err == nil {
		t.Fatal("want a parse error")
	}
	for _, part := range []string{"haproxy.ctmpl:3", `"nosuchfunc"`, "not defined"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q lacks %q", err, part)
		}
	}
}

// renderString executes source against brain and fails on anything but a
// complete render.
func renderString(t *testing.T, source string, brain *Brain) string {
	t.Helper()
	tmpl, err := parseTemplate(TemplateSpec{Source: "test.ctmpl", Destination: "out"}, source)
	if err != nil {
		t.Fatal(err)
	}
	result := tmpl.Render(brain)
	if !result.Complete() {
		t.Fatalf("incomplete render: err=%v missing=%v", result.Err, result.missingIDs())
	}
	return string(result.Content)
}

package main

import (
	"fmt"
	"testing"
)

// benchTemplate has the shape of the formula's HAProxy templates: the
// catalog scanned with regexes, then one `service` query per service and
// environment.
const benchTemplate = `{{- range services -}}{{- $name := .Name -}}
{{- range .Tags -}}{{- if regexMatch "^internal-listen-http-[0-9]+$" . -}}
frontend internal_production:{{ $name }}
    bind :{{ replaceAll "internal-listen-http-" "" . }}
    default_backend cluster_production:{{ $name }}
{{ end -}}{{- end -}}
{{- range $environment := split "," "production,staging" }}
backend cluster_{{ $environment }}:{{ $name }}
{{- range $index, $instance := service (print $environment "." $name) }}
    server {{ $instance.Node }}-{{ $index }} {{ $instance.Address }}:{{ $instance.Port }} check
{{- end }}
{{ end -}}{{- end -}}`

// BenchmarkRender measures one complete render from fetched data, without
// HTTP: `make -C tools/ctmpl bench`.
func BenchmarkRender(b *testing.B) {
	for _, count := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("services=%d", count), func(b *testing.B) {
			tmpl, err := parseTemplate(TemplateSpec{Source: "bench.ctmpl", Destination: "out"}, benchTemplate)
			if err != nil {
				b.Fatal(err)
			}
			brain := benchBrain(count)
			if result := tmpl.Render(brain); !result.Complete() {
				b.Fatalf("incomplete: %v %v", result.Err, result.missingIDs())
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if result := tmpl.Render(brain); !result.Complete() {
					b.Fatal("incomplete render")
				}
			}
		})
	}
}

func benchBrain(count int) *Brain {
	brain := NewBrain()
	catalog := make([]*CatalogSnippet, 0, count)
	for number := 1; number <= count; number++ {
		name := fmt.Sprintf("service-%d", number)
		catalog = append(catalog, &CatalogSnippet{
			Name: name,
			Tags: sortedTags([]string{"production", "staging", fmt.Sprintf("internal-listen-http-%d", 1000+number)}),
		})
		for _, environment := range []string{"production", "staging"} {
			query, _ := parseHealthServiceQuery(environment + "." + name)
			brain.Remember(query.ID(), []*HealthService{{
				Node: "node-1", Address: "10.0.0.1", ID: name + "-" + environment, Name: name,
				Tags: ServiceTags{environment}, Port: 20000 + number, Status: healthPassing,
			}})
		}
	}
	sortCatalog(catalog)
	brain.Remember((&CatalogServicesQuery{}).ID(), catalog)
	return brain
}

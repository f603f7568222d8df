package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestScratchSetGetKeyAndSetX(t *testing.T) {
	s := &Scratch{}
	if s.Key("a") || s.Get("a") != nil {
		t.Fatal("an empty scratch holds nothing")
	}
	if out := s.Set("a", "one"); out != "" {
		t.Errorf("Set printed %q", out)
	}
	s.SetX("a", "two")
	s.SetX("b", "three")
	s.Set("c", "first")
	s.Set("c", "second")
	if s.Get("a") != "one" || s.Get("b") != "three" || s.Get("c") != "second" || !s.Key("b") {
		t.Errorf("got a=%v b=%v c=%v", s.Get("a"), s.Get("b"), s.Get("c"))
	}
}

func TestScratchMapsKeepValuesSortedByKey(t *testing.T) {
	s := &Scratch{}
	s.MapSet("ports", "6379", "redis")
	s.MapSet("ports", "3000", "web")
	s.MapSetX("ports", "3000", "other")
	s.MapSetX("ports", "80", "plain")
	s.MapSet("ports", "6379", "cache")
	values, err := s.MapValues("ports")
	if err != nil || !reflect.DeepEqual(values, []any{"web", "cache", "plain"}) {
		t.Fatalf("MapValues = %v, %v", values, err)
	}
	if values, err := s.MapValues("none"); values != nil || err != nil {
		t.Errorf("a missing map: %v, %v", values, err)
	}
	s.Set("plain", "text")
	if _, err := s.MapSet("plain", "k", "v"); err == nil || !strings.Contains(err.Error(), `"plain" is not a map`) {
		t.Errorf("MapSet on a string: %v", err)
	}
	if values, _ := s.MapValues("plain"); values != nil {
		t.Errorf("MapValues of a string: %v", values)
	}
}

func TestScratchInTemplatesLivesForOneRender(t *testing.T) {
	source := `{{ scratch.Key "seen" }}` +
		`{{ range split "," "b,a,b,c" }}{{ if not (scratch.Key (print "x/" .)) }}{{ scratch.Set (print "x/" .) true }}{{ scratch.MapSet "set" . . }}{{ end }}{{ end }}` +
		`{{ scratch.Set "seen" 1 }} {{ range scratch.MapValues "set" }}{{ . }}{{ end }} {{ scratch.Get "seen" }}`
	tmpl, err := parseTemplate(TemplateSpec{Source: "scratch.ctmpl", Destination: "out"}, source)
	if err != nil {
		t.Fatal(err)
	}
	for pass := 0; pass < 2; pass++ {
		result := tmpl.Render(NewBrain())
		if !result.Complete() {
			t.Fatalf("render %d: %v", pass, result.Err)
		}
		// "false" on the second pass too: nothing leaks from one render into the next.
		if got := string(result.Content); got != "false abc 1" {
			t.Fatalf("render %d: got %q", pass, got)
		}
	}
}

package main

import (
	"bytes"
	"fmt"
	"os"
	"text/template"
)

// Template is one parsed source with its destination and command.
type Template struct {
	Spec   TemplateSpec
	parsed *template.Template
	funcs  *consulFuncs
}

// RenderResult is the outcome of one execution. Complete means every
// dependency had data, so Content may be written.
type RenderResult struct {
	Template *Template
	Content  []byte
	Used     map[string]Dependency
	Missing  map[string]Dependency
	Absent   map[string]Dependency // keys the template waits to exist
	Err      error
}

func (r *RenderResult) Complete() bool { return len(r.Missing) == 0 && r.Err == nil }

// LoadTemplate reads and parses the source. A parse error (such as an
// unknown function) names the file and line, as text/template reports it.
func LoadTemplate(spec TemplateSpec) (*Template, error) {
	source, err := os.ReadFile(spec.Source)
	if err != nil {
		return nil, fmt.Errorf("template source: %v", err)
	}
	return parseTemplate(spec, string(source))
}

func parseTemplate(spec TemplateSpec, source string) (*Template, error) {
	funcs := &consulFuncs{}
	parsed, err := template.New(spec.Source).
		Option("missingkey=zero").
		Funcs(helperFuncs()).
		Funcs(funcs.funcMap()).
		Parse(source)
	if err != nil {
		return nil, err
	}
	return &Template{Spec: spec, parsed: parsed, funcs: funcs}, nil
}

// Render executes the template against what brain knows now. Until every
// dependency is fetched, functions answer empty data and the result is
// incomplete; an execution error that may come from such empty data is
// not reported yet.
func (t *Template) Render(brain *Brain) *RenderResult {
	pass := newRenderPass(brain)
	t.funcs.pass = pass
	t.funcs.scratch = &Scratch{}
	defer func() { t.funcs.pass, t.funcs.scratch = nil, nil }()
	var out bytes.Buffer
	err := t.parsed.Execute(&out, nil)
	result := &RenderResult{Template: t, Used: pass.used, Missing: pass.missing, Absent: pass.absent}
	if err != nil && len(pass.missing) == 0 {
		result.Err = err
	}
	if err == nil {
		result.Content = out.Bytes()
	}
	return result
}

// missingIDs lists the dependencies still lacking, for log lines.
func (r *RenderResult) missingIDs() []string { return sortedKeys(r.Missing) }

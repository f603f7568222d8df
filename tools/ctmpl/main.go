// Command ctmpl renders consul-template templates from the Consul HTTP API
// with Go's text/template: once (-once) or in a watch loop with blocking
// queries. It implements the consul-template functions the platform's
// HAProxy templates use; see README.md in this folder.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run returns the exit status: 0 done, 1 runtime failure, 2 bad usage.
func run(args []string) int {
	cfg, err := parseConfig(args, os.Getenv, os.Stderr)
	switch {
	case errors.Is(err, errHelp):
		return 0
	case errors.Is(err, errUsageShown):
		return 2
	case err != nil:
		fmt.Fprintln(os.Stderr, "ctmpl:", err)
		return 2
	}
	templates, err := loadTemplates(cfg.Templates)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ctmpl:", err)
		return 1
	}
	runner, err := NewRunner(cfg, templates, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ctmpl:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	reload := make(chan os.Signal, 1)
	signal.Notify(reload, syscall.SIGHUP)
	runner.Reload = reload
	if err := runner.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "ctmpl:", err)
		return 1
	}
	return 0
}

// loadTemplates parses every source; the first failure names its file.
func loadTemplates(specs []TemplateSpec) ([]*Template, error) {
	templates := make([]*Template, 0, len(specs))
	for _, spec := range specs {
		tmpl, err := LoadTemplate(spec)
		if err != nil {
			return nil, err
		}
		templates = append(templates, tmpl)
	}
	return templates, nil
}

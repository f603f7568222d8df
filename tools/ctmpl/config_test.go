package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(values map[string]string) func(string) string {
	return func(name string) string { return values[name] }
}

func TestParseConfigDefaultsAndTemplates(t *testing.T) {
	cfg, err := parseConfig([]string{
		"-template", "in.ctmpl:out.cfg",
		"-template", "b.ctmpl:/etc/b.cfg:sh -c 'echo a:b'",
		"-once", "-wait", "2s",
	}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ConsulAddr != "http://127.0.0.1:8500" || !cfg.Once || cfg.Dry {
		t.Errorf("cfg %+v", cfg)
	}
	want := []TemplateSpec{
		{Source: "in.ctmpl", Destination: "out.cfg"},
		{Source: "b.ctmpl", Destination: "/etc/b.cfg", Command: "sh -c 'echo a:b'"},
	}
	if len(cfg.Templates) != 2 || cfg.Templates[0] != want[0] || cfg.Templates[1] != want[1] {
		t.Errorf("templates %+v", cfg.Templates)
	}
	if cfg.Wait != (WaitSpec{Min: 2 * time.Second, Max: 8 * time.Second}) {
		t.Errorf("wait %+v: a lone min means max = 4*min", cfg.Wait)
	}
}

func TestParseConfigTokenPrecedence(t *testing.T) {
	environment := env(map[string]string{"CONSUL_HTTP_TOKEN": "from-env", "CONSUL_HTTP_ADDR": "10.0.0.1:8500"})
	cfg, err := parseConfig([]string{"-template", "a:b"}, environment, io.Discard)
	if err != nil || cfg.Token != "from-env" || cfg.ConsulAddr != "10.0.0.1:8500" {
		t.Fatalf("%+v %v", cfg, err)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _ = parseConfig([]string{"-template", "a:b", "-token-file", tokenFile}, environment, io.Discard)
	if cfg.Token != "from-file" {
		t.Errorf("token file should win over env, got %q", cfg.Token)
	}
	cfg, _ = parseConfig([]string{"-template", "a:b", "-token", "from-flag", "-token-file", tokenFile}, environment, io.Discard)
	if cfg.Token != "from-flag" {
		t.Errorf("flag should win, got %q", cfg.Token)
	}
}

func TestParseConfigErrorsAreUsageErrors(t *testing.T) {
	cases := map[string][]string{
		"at least one -template":       {},
		"want source:destination":      {"-template", "only-source"},
		"bad minimum":                  {"-template", "a:b", "-wait", "soon"},
		"want 0 <= min <= max":         {"-template", "a:b", "-wait", "10s:1s"},
		"octal mode":                   {"-template", "a:b", "-perms", "rw-r--r--"},
		"-blocking-wait must be":       {"-template", "a:b", "-blocking-wait", "20m"},
		"unexpected argument":          {"-template", "a:b", "stray"},
		"token file":                   {"-template", "a:b", "-token-file", "/nonexistent/token"},
		"-command-timeout must be pos": {"-template", "a:b", "-command-timeout", "0s"},
	}
	for want, args := range cases {
		_, err := parseConfig(args, env(nil), io.Discard)
		if !errors.Is(err, errUsage) {
			t.Errorf("%v: %v is not a usage error", args, err)
			continue
		}
		if !errors.Is(err, errUsageShown) && !strings.Contains(err.Error(), want) {
			t.Errorf("%v: error %q lacks %q", args, err, want)
		}
	}
	if _, err := parseConfig([]string{"-nosuchflag"}, env(nil), io.Discard); !errors.Is(err, errUsageShown) {
		t.Errorf("unknown flag: %v", err)
	}
	if _, err := parseConfig([]string{"-h"}, env(nil), io.Discard); !errors.Is(err, errHelp) {
		t.Errorf("-h: %v", err)
	}
}

func TestParsePerms(t *testing.T) {
	if mode, err := parsePerms("0640"); err != nil || mode != 0o640 {
		t.Errorf("0640: %o %v", mode, err)
	}
	if mode, err := parsePerms(""); err != nil || mode != 0 {
		t.Errorf("empty: %o %v", mode, err)
	}
	if _, err := parsePerms("99999"); err == nil {
		t.Error("99999 accepted")
	}
}

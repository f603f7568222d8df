package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is everything the command line (and environment) decides.
type Config struct {
	ConsulAddr     string
	Token          string
	Templates      []TemplateSpec
	Once           bool
	Dry            bool
	Wait           WaitSpec
	Perms          os.FileMode // zero: keep the destination's mode, else 0644
	Backup         bool
	CreateDestDirs bool
	MaxStale       time.Duration
	CommandTimeout time.Duration
	BlockingWait   time.Duration
	Verbose        bool
}

// TemplateSpec is one "-template src:dest[:command]" flag.
type TemplateSpec struct {
	Source      string
	Destination string
	Command     string
}

// WaitSpec is the quiescence window: render once changes stop for Min,
// but never later than Max after the first change.
type WaitSpec struct {
	Min time.Duration
	Max time.Duration
}

// errUsage marks a command-line mistake; main exits 2 for it.
var errUsage = errors.New("usage")

// errUsageShown is a usage error the flag package already printed, with
// the usage text; errHelp is -h.
var (
	errUsageShown = fmt.Errorf("%w: shown", errUsage)
	errHelp       = fmt.Errorf("%w: help", errUsage)
)

type templateFlags []TemplateSpec

func (t *templateFlags) String() string { return fmt.Sprint(len(*t), " templates") }

func (t *templateFlags) Set(value string) error {
	spec, err := parseTemplateSpec(value)
	if err != nil {
		return err
	}
	*t = append(*t, spec)
	return nil
}

// parseTemplateSpec splits "src:dest[:command]"; the command may itself
// contain colons, so only the first two separate fields.
func parseTemplateSpec(value string) (TemplateSpec, error) {
	parts := strings.SplitN(value, ":", 3)
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return TemplateSpec{}, fmt.Errorf("template %q: want source:destination[:command]", value)
	}
	spec := TemplateSpec{Source: parts[0], Destination: parts[1]}
	if len(parts) == 3 {
		spec.Command = strings.TrimSpace(parts[2])
	}
	return spec, nil
}

// parseWait reads "min" or "min:max"; like consul-template, a lone min
// means max = 4 * min.
func parseWait(value string) (WaitSpec, error) {
	if value == "" {
		return WaitSpec{}, nil
	}
	minText, maxText, hasMax := strings.Cut(value, ":")
	minWait, err := time.ParseDuration(minText)
	if err != nil {
		return WaitSpec{}, fmt.Errorf("wait %q: bad minimum: %v", value, err)
	}
	maxWait := 4 * minWait
	if hasMax {
		if maxWait, err = time.ParseDuration(maxText); err != nil {
			return WaitSpec{}, fmt.Errorf("wait %q: bad maximum: %v", value, err)
		}
	}
	if minWait < 0 || maxWait < minWait {
		return WaitSpec{}, fmt.Errorf("wait %q: want 0 <= min <= max", value)
	}
	return WaitSpec{Min: minWait, Max: maxWait}, nil
}

func parsePerms(value string) (os.FileMode, error) {
	if value == "" {
		return 0, nil
	}
	mode, err := strconv.ParseUint(value, 8, 32)
	if err != nil || mode > 0o7777 {
		return 0, fmt.Errorf("perms %q: want an octal mode such as 0644", value)
	}
	return os.FileMode(mode), nil
}

// parseConfig reads the flags; getenv supplies CONSUL_HTTP_ADDR and
// CONSUL_HTTP_TOKEN so tests need not touch the real environment.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (*Config, error) {
	fs := flag.NewFlagSet("ctmpl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ctmpl -consul-addr URL -template src:dest[:command] [flags]")
		fmt.Fprintln(stderr, "Renders consul-template templates from the Consul HTTP API.")
		fs.PrintDefaults()
	}
	cfg := &Config{}
	var templates templateFlags
	var waitText, permsText, tokenFile string
	defaultAddr := getenv("CONSUL_HTTP_ADDR")
	if defaultAddr == "" {
		defaultAddr = "http://127.0.0.1:8500"
	}
	fs.StringVar(&cfg.ConsulAddr, "consul-addr", defaultAddr, "Consul HTTP address (env CONSUL_HTTP_ADDR)")
	fs.StringVar(&cfg.Token, "token", "", "Consul ACL token; prefer env CONSUL_HTTP_TOKEN or -token-file, flags show in ps")
	fs.StringVar(&tokenFile, "token-file", "", "file holding the Consul ACL token")
	fs.Var(&templates, "template", "source:destination[:command]; repeatable")
	fs.BoolVar(&cfg.Once, "once", false, "render once and exit")
	fs.BoolVar(&cfg.Dry, "dry", false, "print rendered templates to stdout instead of writing them")
	fs.StringVar(&waitText, "wait", "", "quiescence min[:max], e.g. 2s:10s")
	fs.StringVar(&permsText, "perms", "", "mode of written files (default: keep the existing mode, else 0644)")
	fs.BoolVar(&cfg.Backup, "backup", false, "keep the previous destination as <destination>.bak")
	fs.BoolVar(&cfg.CreateDestDirs, "create-dest-dirs", false, "create missing destination directories")
	fs.DurationVar(&cfg.MaxStale, "max-stale", 0, "allow stale reads up to this old (0: consistent reads)")
	fs.DurationVar(&cfg.CommandTimeout, "command-timeout", 30*time.Second, "kill a command running longer than this")
	fs.DurationVar(&cfg.BlockingWait, "blocking-wait", 60*time.Second, "?wait of each blocking query")
	fs.BoolVar(&cfg.Verbose, "v", false, "log every fetch and render")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		return nil, errUsageShown
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if len(templates) == 0 {
		return nil, fmt.Errorf("%w: at least one -template is required", errUsage)
	}
	cfg.Templates = templates
	var err error
	if cfg.Wait, err = parseWait(waitText); err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if cfg.Perms, err = parsePerms(permsText); err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if cfg.BlockingWait < time.Second || cfg.BlockingWait > 10*time.Minute {
		return nil, fmt.Errorf("%w: -blocking-wait must be between 1s and 10m", errUsage)
	}
	if cfg.CommandTimeout <= 0 {
		return nil, fmt.Errorf("%w: -command-timeout must be positive", errUsage)
	}
	if cfg.Token, err = resolveToken(cfg.Token, tokenFile, getenv); err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	return cfg, nil
}

// resolveToken picks the flag, then the token file, then CONSUL_HTTP_TOKEN.
// Errors name the file, never its content.
func resolveToken(flagToken, tokenFile string, getenv func(string) string) (string, error) {
	if flagToken != "" {
		return flagToken, nil
	}
	if tokenFile != "" {
		data, err := os.ReadFile(tokenFile)
		if err != nil {
			return "", fmt.Errorf("token file: %v", err)
		}
		return strings.TrimSpace(string(data)), nil
	}
	return getenv("CONSUL_HTTP_TOKEN"), nil
}

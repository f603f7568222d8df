package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"sync"
	"time"
)

// maxConcurrentReads caps the non-blocking reads in flight (first fetches,
// and re-reads after an index reset). Blocking queries are not capped:
// each must stay open to hear about its change.
const maxConcurrentReads = 8

// Runner renders every template, keeps a view on each dependency they use,
// and writes and runs commands when the output changes.
type Runner struct {
	cfg       *Config
	client    *ConsulClient
	templates []*Template
	brain     *Brain
	views     map[string]*view
	changed   chan struct{} // capacity 1: many notifications coalesce
	slots     chan struct{} // shared by views: concurrent non-blocking reads
	settled   chan struct{} // closed when no template lacks unfetched data
	settle    sync.Once
	fatal     chan error
	stdout    io.Writer
	stderr    *os.File
	logger    *log.Logger
	printed   map[string][]byte // -dry: last output printed per destination
	announced map[string]bool   // missing keys already logged
	// Reload asks to re-read the template sources (SIGHUP, as in
	// consul-template); nil means never.
	Reload <-chan os.Signal
}

func NewRunner(cfg *Config, templates []*Template, stdout io.Writer, stderr *os.File) (*Runner, error) {
	client, err := NewConsulClient(cfg.ConsulAddr, cfg.Token, cfg.MaxStale)
	if err != nil {
		return nil, err
	}
	return &Runner{
		cfg:       cfg,
		client:    client,
		templates: templates,
		brain:     NewBrain(),
		views:     map[string]*view{},
		changed:   make(chan struct{}, 1),
		slots:     make(chan struct{}, maxConcurrentReads),
		settled:   make(chan struct{}),
		fatal:     make(chan error, 1),
		stdout:    stdout,
		stderr:    stderr,
		logger:    log.New(stderr, "ctmpl: ", log.LstdFlags|log.Lmsgprefix),
		printed:   map[string][]byte{},
		announced: map[string]bool{},
	}, nil
}

// Run renders until done: in -once mode after the first complete render,
// in watch mode when ctx ends (SIGTERM/SIGINT), which is a clean exit.
func (r *Runner) Run(ctx context.Context) error {
	viewsCtx, cancelViews := context.WithCancel(ctx)
	defer func() {
		cancelViews()
		r.stopAllViews()
	}()
	for {
		results := r.renderAll()
		r.syncViews(viewsCtx, results)
		if !lacksUnfetchedData(results) {
			r.settle.Do(func() { close(r.settled) })
		}
		complete, err := r.handleResults(results)
		if r.cfg.Once && (complete || err != nil) {
			return err
		}
		if err != nil {
			r.logger.Print(err)
		}
		// Quiescence applies to changes of complete output; while data is
		// still arriving, render as soon as it is all there.
		if err := r.waitForChange(ctx, complete); err != nil {
			if errors.Is(err, context.Canceled) && !r.cfg.Once {
				return nil
			}
			return r.describeStop(err, results)
		}
	}
}

// handleResults publishes the output once every template is complete, or
// says what it waits for. complete is false while data is missing or a
// template failed.
func (r *Runner) handleResults(results []*RenderResult) (complete bool, err error) {
	if err := firstError(results); err != nil {
		return false, fmt.Errorf("render failed, nothing written: %w", err)
	}
	if !allComplete(results) {
		r.announceMissing(results)
		return false, nil
	}
	return true, r.publish(results)
}

func (r *Runner) renderAll() []*RenderResult {
	results := make([]*RenderResult, 0, len(r.templates))
	for _, tmpl := range r.templates {
		results = append(results, tmpl.Render(r.brain))
	}
	return results
}

// syncViews starts a view for every dependency in use and stops (and
// forgets) those no template reads any more.
func (r *Runner) syncViews(ctx context.Context, results []*RenderResult) {
	used := map[string]Dependency{}
	for _, result := range results {
		for id, dep := range result.Used {
			used[id] = dep
		}
	}
	for id, existing := range r.views {
		if _, ok := used[id]; !ok {
			existing.stop()
			delete(r.views, id)
			r.brain.Forget(id)
		}
	}
	for _, id := range sortedKeys(used) {
		if _, ok := r.views[id]; ok {
			continue
		}
		v := &view{
			dep: used[id], client: r.client, brain: r.brain,
			blockingWait: r.cfg.BlockingWait, once: r.cfg.Once,
			logger: r.logger, verbose: r.cfg.Verbose,
			notify: r.notifyChange, fail: r.reportFatal,
			fetchSlots: r.slots, settled: r.settled,
		}
		v.start(ctx)
		r.views[id] = v
	}
}

func (r *Runner) stopAllViews() {
	for id, v := range r.views {
		v.stop()
		delete(r.views, id)
	}
}

func (r *Runner) notifyChange() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *Runner) reportFatal(err error) {
	select {
	case r.fatal <- err:
	default:
	}
}

// waitForChange returns once new data should be rendered: every view has
// its first answer, and, after the first write, the -wait quiescence has
// passed (no change for Min, or Max since the first change).
func (r *Runner) waitForChange(ctx context.Context, quiesce bool) error {
	var minTimer, maxTimer <-chan time.Time
	pending := false
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-r.fatal:
			return err
		case <-r.Reload:
			if r.reloadTemplates() {
				return nil
			}
		case <-r.changed:
			if !r.allViewsReceived() {
				continue
			}
			if !quiesce || r.cfg.Wait.Min == 0 {
				return nil
			}
			if !pending {
				pending = true
				maxTimer = time.After(r.cfg.Wait.Max)
			}
			minTimer = time.After(r.cfg.Wait.Min)
		case <-minTimer:
			return nil
		case <-maxTimer:
			return nil
		}
	}
}

// reloadTemplates re-reads every source; on any error the running
// templates stay in place, so a typo cannot take the output away.
func (r *Runner) reloadTemplates() bool {
	templates, err := loadTemplates(r.cfg.Templates)
	if err != nil {
		r.logger.Printf("reload refused, keeping the running templates: %v", err)
		return false
	}
	r.templates = templates
	r.logger.Printf("reloaded %d template(s)", len(templates))
	return true
}

func (r *Runner) allViewsReceived() bool {
	for _, v := range r.views {
		if !v.received.Load() {
			return false
		}
	}
	return true
}

// publish writes (or, with -dry, prints) every changed output, then runs
// the commands of the changed templates, each distinct command once.
func (r *Runner) publish(results []*RenderResult) error {
	var commands []string
	var failures []string
	for _, result := range results {
		spec := result.Template.Spec
		changed, err := r.output(spec.Destination, result.Content)
		if err != nil {
			failures = append(failures, err.Error())
			continue
		}
		if changed && spec.Command != "" && !r.cfg.Dry && !containsString(commands, spec.Command) {
			commands = append(commands, spec.Command)
		}
	}
	for _, command := range commands {
		if err := runCommand(command, r.cfg.CommandTimeout, r.stderr, r.stderr); err != nil {
			failures = append(failures, err.Error())
		}
	}
	if len(failures) > 0 {
		return errors.New(strings.Join(failures, "; "))
	}
	return nil
}

func (r *Runner) output(destination string, content []byte) (bool, error) {
	if r.cfg.Dry {
		if previous, ok := r.printed[destination]; ok && string(previous) == string(content) {
			return false, nil
		}
		r.printed[destination] = content
		_, err := fmt.Fprintf(r.stdout, "> %s\n%s", destination, content)
		return true, err
	}
	changed, err := writeIfChanged(destination, content, WriteOptions{
		Perms: r.cfg.Perms, Backup: r.cfg.Backup, CreateDestDirs: r.cfg.CreateDestDirs,
	})
	if changed {
		r.logger.Printf("rendered %s", destination)
	}
	return changed, err
}

// announceMissing logs, once per key, that a template waits for a key to
// exist: otherwise a blocked -once run looks hung.
func (r *Runner) announceMissing(results []*RenderResult) {
	for _, result := range results {
		for _, id := range sortedKeys(result.Absent) {
			if !r.announced[id] {
				r.announced[id] = true
				r.logger.Printf("%s waits for %s to exist", result.Template.Spec.Source, id)
			}
		}
	}
}

func (r *Runner) describeStop(err error, results []*RenderResult) error {
	if errors.Is(err, context.Canceled) {
		if missing := missingList(results); len(missing) > 0 {
			return fmt.Errorf("interrupted while waiting for %s", strings.Join(missing, ", "))
		}
		return errors.New("interrupted")
	}
	return err
}

// lacksUnfetchedData reports a dependency never answered yet; a `key`
// answered as absent does not count, its view must block to see it appear.
func lacksUnfetchedData(results []*RenderResult) bool {
	for _, result := range results {
		for id := range result.Missing {
			if _, absent := result.Absent[id]; !absent {
				return true
			}
		}
	}
	return false
}

func firstError(results []*RenderResult) error {
	for _, result := range results {
		if result.Err != nil {
			return result.Err
		}
	}
	return nil
}

func allComplete(results []*RenderResult) bool {
	for _, result := range results {
		if !result.Complete() {
			return false
		}
	}
	return true
}

func missingList(results []*RenderResult) []string {
	var missing []string
	for _, result := range results {
		for _, id := range result.missingIDs() {
			if !containsString(missing, id) {
				missing = append(missing, id)
			}
		}
	}
	return missing
}

func containsString(list []string, wanted string) bool {
	for _, item := range list {
		if item == wanted {
			return true
		}
	}
	return false
}

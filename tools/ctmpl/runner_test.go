package main

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	// Fast pacing keeps the loop tests short; the logic is the same.
	minQueryInterval = 20 * time.Millisecond
	retryBaseDelay = 20 * time.Millisecond
	os.Exit(m.Run())
}

const catalogTemplate = `{{ range services }}{{ .Name }} [{{ join "," .Tags }}]
{{ range service (print "production." .Name) }}  {{ .Node }} {{ .ID }} {{ .Address }}:{{ .Port }}
{{ end }}{{ end }}maxconn {{ keyOrDefault "service/haproxy/maxconn" "4096" }}
`

func seedCatalog(fake *fakeConsul) {
	fake.register(fakeInstance{Node: "node-b", NodeAddress: "10.0.0.2", Name: "web", ID: "web-b", Port: 31002, Tags: []string{"production"}, Checks: passing("b")})
	fake.register(fakeInstance{Node: "node-a", NodeAddress: "10.0.0.1", Name: "web", ID: "web-a", Address: "172.17.0.5", Port: 31001, Tags: []string{"production", "internal-listen-http-8080"}, Checks: passing("a")})
	fake.register(fakeInstance{Node: "node-c", NodeAddress: "10.0.0.3", Name: "web", ID: "web-c", Port: 31003, Tags: []string{"production"}, Checks: critical("c")})
	fake.register(fakeInstance{Node: "node-a", NodeAddress: "10.0.0.1", Name: "api", ID: "api-s", Port: 31010, Tags: []string{"staging"}, Checks: passing("s")})
}

func TestOnceRendersCatalogWithHealthyInstancesOnly(t *testing.T) {
	fake := newFakeConsul(t)
	seedCatalog(fake)
	harness := newHarness(t, fake, catalogTemplate, "")
	harness.cfg.Once = true
	if err := harness.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := `api [staging]
web [internal-listen-http-8080,production]
  node-a web-a 172.17.0.5:31001
  node-b web-b 10.0.0.2:31002
maxconn 4096
`
	harness.assertOutput(want)
}

func TestOnceLeavesNoQueryBehind(t *testing.T) {
	fake := newFakeConsul(t)
	seedCatalog(fake)
	harness := newHarness(t, fake, catalogTemplate, "")
	harness.cfg.Once = true
	if err := harness.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Run has returned: every view has stopped. None may have blocked, and
	// each dependency was read once.
	seen := map[string]bool{}
	for _, uri := range fake.requestLog() {
		if strings.Contains(uri, "index=") || seen[uri] {
			t.Errorf("-once made an unneeded request %s (all: %v)", uri, fake.requestLog())
		}
		seen[uri] = true
	}
}

func TestOnceKeyWaitsUntilTheKeyExists(t *testing.T) {
	fake := newFakeConsul(t)
	harness := newHarness(t, fake, `maxconn {{ key "service/haproxy/maxconn" }}`, "")
	harness.cfg.Once = true
	done := harness.runInBackground(context.Background())
	fake.waitForRequest(func(uri string) bool {
		return strings.HasPrefix(uri, "/v1/kv/service/haproxy/maxconn?index=")
	})
	if _, err := os.Stat(harness.destination); !os.IsNotExist(err) {
		t.Fatal("written before the key existed")
	}
	fake.putKey("service/haproxy/maxconn", "2000")
	if err := waitDone(t, done); err != nil {
		t.Fatal(err)
	}
	harness.assertOutput("maxconn 2000")
	if !strings.Contains(harness.logText(), "waits for kv.get(service/haproxy/maxconn) to exist") {
		t.Errorf("no waiting notice in log: %s", harness.logText())
	}
}

func TestOnceFailsClearlyOnForbidden(t *testing.T) {
	fake := newFakeConsul(t)
	fake.token = "right"
	harness := newHarness(t, fake, `{{ range services }}{{ .Name }}{{ end }}`, "")
	harness.cfg.Once = true
	harness.cfg.Token = "wrong-token-value"
	err := harness.run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "403") || strings.Contains(err.Error(), "wrong-token-value") {
		t.Fatalf("got %v", err)
	}
	if len(fake.requestLog()) != 1 {
		t.Errorf("a 403 must not be retried in -once mode: %v", fake.requestLog())
	}
}

func TestOnceFailsOnTemplateExecutionError(t *testing.T) {
	fake := newFakeConsul(t)
	fake.putKey("bad", "not-a-number")
	harness := newHarness(t, fake, `{{ key "bad" | parseInt }}`, "")
	harness.cfg.Once = true
	err := harness.run(context.Background())
	if err == nil || !strings.Contains(err.Error(), `"not-a-number" is not an integer`) {
		t.Fatalf("got %v", err)
	}
	if _, statErr := os.Stat(harness.destination); !os.IsNotExist(statErr) {
		t.Error("nothing may be written after a failed render")
	}
}

func TestDryPrintsInsteadOfWriting(t *testing.T) {
	fake := newFakeConsul(t)
	harness := newHarness(t, fake, `hello {{ keyOrDefault "x" "world" }}`, "")
	harness.cfg.Once, harness.cfg.Dry = true, true
	if err := harness.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := harness.stdout.String(); got != "> "+harness.destination+"\nhello world" {
		t.Errorf("stdout %q", got)
	}
	if _, err := os.Stat(harness.destination); !os.IsNotExist(err) {
		t.Error("-dry wrote the destination")
	}
}

func TestWatchRerendersAndRunsCommandOnChange(t *testing.T) {
	fake := newFakeConsul(t)
	seedCatalog(fake)
	marker := filepath.Join(t.TempDir(), "reloads")
	harness := newHarness(t, fake, catalogTemplate, "echo reload >> '"+marker+"'")
	ctx, cancel := context.WithCancel(context.Background())
	done := harness.runInBackground(ctx)
	defer func() {
		cancel()
		if err := waitDone(t, done); err != nil {
			t.Errorf("a cancelled watch loop must exit cleanly: %v", err)
		}
	}()
	harness.waitForOutput(func(text string) bool { return strings.Contains(text, "web-b") })
	waitForFile(t, marker, "reload\n")

	fake.register(fakeInstance{Node: "node-d", NodeAddress: "10.0.0.4", Name: "db", ID: "db-1", Port: 5432, Tags: []string{"production"}, Checks: passing("d")})
	harness.waitForOutput(func(text string) bool { return strings.Contains(text, "node-d db-1 10.0.0.4:5432") })
	waitForFile(t, marker, "reload\nreload\n")

	// A change that does not alter the output neither rewrites nor reloads.
	fake.putKey("unrelated", "x")
	fake.register(fakeInstance{Node: "node-e", Name: "web", ID: "web-e", Port: 1, Tags: []string{"production"}, Checks: critical("e")})
	fake.putKey("service/haproxy/maxconn", "100")
	harness.waitForOutput(func(text string) bool { return strings.Contains(text, "maxconn 100") })
	waitForFile(t, marker, "reload\nreload\nreload\n")
}

func TestWatchQuiescenceCoalescesABurst(t *testing.T) {
	fake := newFakeConsul(t)
	marker := filepath.Join(t.TempDir(), "reloads")
	harness := newHarness(t, fake, `{{ range service "web" }}{{ .ID }} {{ end }}`, "echo reload >> '"+marker+"'")
	harness.cfg.Wait = WaitSpec{Min: 300 * time.Millisecond, Max: 3 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := harness.runInBackground(ctx)
	defer func() { cancel(); _ = waitDone(t, done) }()
	waitForFile(t, marker, "reload\n") // the first render does not wait

	for _, id := range []string{"w1", "w2", "w3"} {
		fake.register(fakeInstance{Node: "n", Name: "web", ID: id, Port: 1, Checks: passing(id)})
	}
	harness.waitForOutput(func(text string) bool { return text == "w1 w2 w3 " })
	waitForFile(t, marker, "reload\nreload\n")
}

func TestWatchBlocksOnlyAfterTheFirstDataIsIn(t *testing.T) {
	fake := newFakeConsul(t)
	for _, name := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		fake.register(fakeInstance{Node: "n", Name: name, Port: 1, Checks: passing(name)})
	}
	// Slower than minQueryInterval, and more services than concurrent
	// reads: without the gate, early views would block while later ones
	// still wait for their first read.
	fake.latency = 2 * minQueryInterval
	harness := newHarness(t, fake, `{{ range services }}{{ range service .Name }}{{ .ID }} {{ end }}{{ end }}`, "")
	ctx, cancel := context.WithCancel(context.Background())
	done := harness.runInBackground(ctx)
	defer func() { cancel(); _ = waitDone(t, done) }()
	harness.waitForOutput(func(text string) bool { return text == "a b c d e f g h i j " })
	fake.waitForRequest(func(uri string) bool { return strings.Contains(uri, "index=") })

	lastFirstRead, firstBlocking := -1, -1
	for i, uri := range fake.requestLog() {
		switch {
		case strings.Contains(uri, "index="):
			if firstBlocking < 0 {
				firstBlocking = i
			}
		default:
			lastFirstRead = i
		}
	}
	if firstBlocking < lastFirstRead {
		t.Errorf("blocking query %d before first read %d: %v", firstBlocking, lastFirstRead, fake.requestLog())
	}
}

func TestWatchKeepsGoingAfterAFailingCommand(t *testing.T) {
	fake := newFakeConsul(t)
	harness := newHarness(t, fake, `{{ keyOrDefault "k" "none" }}`, "exit 7")
	ctx, cancel := context.WithCancel(context.Background())
	done := harness.runInBackground(ctx)
	defer func() { cancel(); _ = waitDone(t, done) }()
	harness.waitForOutput(func(text string) bool { return text == "none" })
	fake.putKey("k", "set")
	harness.waitForOutput(func(text string) bool { return text == "set" })
	waitFor(t, func() bool { return strings.Count(harness.logText(), `command "exit 7" failed: exit status 7`) >= 2 })
}

func TestReloadRereadsSourcesAndKeepsThemOnError(t *testing.T) {
	fake := newFakeConsul(t)
	fake.putKey("k", "v")
	harness := newHarness(t, fake, `first {{ key "k" }}`, "")
	source := harness.cfg.Templates[0].Source
	reload := make(chan os.Signal, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	runner, err := NewRunner(harness.cfg, []*Template{harness.template}, harness.stdout, harness.logFile)
	if err != nil {
		t.Fatal(err)
	}
	runner.Reload = reload
	go func() { done <- runner.Run(ctx) }()
	defer func() { cancel(); _ = waitDone(t, done) }()
	harness.waitForOutput(func(text string) bool { return text == "first v" })

	if err := os.WriteFile(source, []byte(`broken {{ nosuch }}`), 0o644); err != nil {
		t.Fatal(err)
	}
	reload <- syscall.SIGHUP
	waitFor(t, func() bool { return strings.Contains(harness.logText(), "reload refused") })
	fake.putKey("k", "w")
	harness.waitForOutput(func(text string) bool { return text == "first w" })

	if err := os.WriteFile(source, []byte(`second {{ key "k" }} {{ keyOrDefault "other" "d" }}`), 0o644); err != nil {
		t.Fatal(err)
	}
	reload <- syscall.SIGHUP
	harness.waitForOutput(func(text string) bool { return text == "second w d" })
}

func TestViewResetsIndexWhenItGoesBackwards(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	answers := []string{"10", "5", "6"}
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		call := len(seen)
		seen = append(seen, r.URL.RawQuery)
		mu.Unlock()
		w.Header().Set("X-Consul-Index", answers[min(call, len(answers)-1)])
		_, _ = w.Write([]byte(`{"web":[]}`))
	}))
	defer server.Close()
	client, _ := NewConsulClient(server.URL, "", 0)
	v := &view{
		dep: &CatalogServicesQuery{}, client: client, brain: NewBrain(), blockingWait: time.Second,
		logger: log.New(io.Discard, "", 0), notify: func() {}, fail: func(error) {},
	}
	v.start(context.Background())
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) >= 4 })
	v.stop()
	mu.Lock()
	defer mu.Unlock()
	want := []string{"", "index=10&wait=1s", "", "index=6&wait=1s"}
	for i, query := range want {
		if seen[i] != query {
			t.Fatalf("request %d query %q, want %q (all: %q)", i, seen[i], query, seen)
		}
	}
}

func TestViewRereadsWithoutBlockingAfterAFailure(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		call := len(seen)
		seen = append(seen, r.URL.RawQuery)
		mu.Unlock()
		if call == 1 {
			http.Error(w, "No cluster leader", http.StatusInternalServerError)
			return
		}
		w.Header().Set("X-Consul-Index", "10")
		_, _ = w.Write([]byte(`{"web":[]}`))
	}))
	defer server.Close()
	client, _ := NewConsulClient(server.URL, "", 0)
	v := &view{
		dep: &CatalogServicesQuery{}, client: client, brain: NewBrain(), blockingWait: time.Second,
		logger: log.New(io.Discard, "", 0), notify: func() {}, fail: func(error) {},
	}
	v.start(context.Background())
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) >= 4 })
	v.stop()
	mu.Lock()
	defer mu.Unlock()
	want := []string{"", "index=10&wait=1s", "", "index=10&wait=1s"}
	for i, query := range want {
		if seen[i] != query {
			t.Fatalf("request %d query %q, want %q (all: %q)", i, seen[i], query, seen)
		}
	}
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// harness runs a Runner over one template written to a temp directory.
type harness struct {
	t           *testing.T
	cfg         *Config
	template    *Template
	destination string
	stdout      *bytes.Buffer
	logFile     *os.File
}

func newHarness(t *testing.T, fake *fakeConsul, source, command string) *harness {
	t.Helper()
	dir := t.TempDir()
	spec := TemplateSpec{Source: filepath.Join(dir, "in.ctmpl"), Destination: filepath.Join(dir, "out"), Command: command}
	tmpl, err := parseTemplate(spec, source)
	if err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() })
	cfg := &Config{
		ConsulAddr: fake.URL(), Templates: []TemplateSpec{spec},
		BlockingWait: 5 * time.Second, CommandTimeout: 5 * time.Second,
	}
	return &harness{t: t, cfg: cfg, template: tmpl, destination: spec.Destination, stdout: &bytes.Buffer{}, logFile: logFile}
}

func (h *harness) run(ctx context.Context) error {
	runner, err := NewRunner(h.cfg, []*Template{h.template}, h.stdout, h.logFile)
	if err != nil {
		return err
	}
	return runner.Run(ctx)
}

func (h *harness) runInBackground(ctx context.Context) <-chan error {
	done := make(chan error, 1)
	go func() { done <- h.run(ctx) }()
	return done
}

func (h *harness) logText() string {
	data, _ := os.ReadFile(h.logFile.Name())
	return string(data)
}

func (h *harness) assertOutput(want string) {
	h.t.Helper()
	got, err := os.ReadFile(h.destination)
	if err != nil {
		h.t.Fatal(err)
	}
	if string(got) != want {
		h.t.Fatalf("output:\n%s\nwant:\n%s", got, want)
	}
}

func (h *harness) waitForOutput(match func(string) bool) {
	h.t.Helper()
	waitFor(h.t, func() bool {
		data, err := os.ReadFile(h.destination)
		return err == nil && match(string(data))
	})
}

func waitForFile(t *testing.T, path, want string) {
	t.Helper()
	waitFor(t, func() bool {
		data, _ := os.ReadFile(path)
		return string(data) == want
	})
	// Stay a moment to catch an extra, unwanted run.
	time.Sleep(100 * time.Millisecond)
	if data, _ := os.ReadFile(path); string(data) != want {
		t.Fatalf("%s became %q, want %q", path, data, want)
	}
}

// waitFor polls condition for at most 5 seconds.
func waitFor(t *testing.T, condition func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if condition() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("condition not met within 5s")
}

func waitDone(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("runner did not return within 5s")
		return nil
	}
}

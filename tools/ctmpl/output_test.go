package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteIfChangedWritesOnlyChanges(t *testing.T) {
	destination := filepath.Join(t.TempDir(), "haproxy.cfg")
	changed, err := writeIfChanged(destination, []byte("one"), WriteOptions{})
	if err != nil || !changed {
		t.Fatalf("first write: %v %v", changed, err)
	}
	assertFile(t, destination, "one", defaultPerms)
	before, _ := os.Stat(destination)
	changed, err = writeIfChanged(destination, []byte("one"), WriteOptions{})
	after, _ := os.Stat(destination)
	if err != nil || changed || !os.SameFile(before, after) {
		t.Fatalf("same content must not be rewritten: %v %v", changed, err)
	}
	if _, err := writeIfChanged(destination, []byte("two"), WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	assertFile(t, destination, "two", defaultPerms)
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(destination), ".*ctmpl-*"))
	if len(leftovers) != 0 {
		t.Errorf("temp files left behind: %v", leftovers)
	}
}

func TestWriteKeepsExistingModeUnlessPermsGiven(t *testing.T) {
	destination := filepath.Join(t.TempDir(), "out")
	if err := os.WriteFile(destination, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(destination, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := writeIfChanged(destination, []byte("new"), WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	assertFile(t, destination, "new", 0o600)
	changed, err := writeIfChanged(destination, []byte("new"), WriteOptions{Perms: 0o640})
	if err != nil || !changed {
		t.Fatalf("a perms change alone must rewrite: %v %v", changed, err)
	}
	assertFile(t, destination, "new", 0o640)
}

func TestWriteBackupKeepsPreviousContent(t *testing.T) {
	destination := filepath.Join(t.TempDir(), "out")
	if _, err := writeIfChanged(destination, []byte("first"), WriteOptions{Backup: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(destination + ".bak"); !os.IsNotExist(err) {
		t.Error("no backup expected of a file that did not exist")
	}
	if _, err := writeIfChanged(destination, []byte("second"), WriteOptions{Backup: true}); err != nil {
		t.Fatal(err)
	}
	assertFile(t, destination, "second", defaultPerms)
	assertFile(t, destination+".bak", "first", defaultPerms)
}

func TestWriteDestinationDirectory(t *testing.T) {
	destination := filepath.Join(t.TempDir(), "a", "b", "out")
	_, err := writeIfChanged(destination, []byte("x"), WriteOptions{})
	if err == nil || !strings.Contains(err.Error(), "-create-dest-dirs") || !strings.Contains(err.Error(), filepath.Dir(destination)) {
		t.Fatalf("got %v", err)
	}
	if _, err := writeIfChanged(destination, []byte("x"), WriteOptions{CreateDestDirs: true}); err != nil {
		t.Fatal(err)
	}
	assertFile(t, destination, "x", defaultPerms)
}

func TestWriteRefusesADirectoryAsDestination(t *testing.T) {
	destination := t.TempDir()
	if _, err := writeIfChanged(destination, []byte("x"), WriteOptions{}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("got %v", err)
	}
}

func TestRunCommand(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	if err := runCommand("echo ok > '"+marker+"'", 5*time.Second, os.Stderr, os.Stderr); err != nil {
		t.Fatal(err)
	}
	assertFile(t, marker, "ok\n", 0)
	err := runCommand("exit 3", 5*time.Second, os.Stderr, os.Stderr)
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), `"exit 3"`) {
		t.Errorf("failure: %v", err)
	}
}

func TestRunCommandTimeoutKillsTheWholeGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	started := time.Now()
	// The shell waits on a background child; both must die at the timeout.
	err := runCommand("sleep 30 & echo $! > '"+pidFile+"'; wait", 300*time.Millisecond, os.Stderr, os.Stderr)
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("got %v", err)
	}
	if elapsed := time.Since(started); elapsed > 5*time.Second {
		t.Fatalf("took %s", elapsed)
	}
	pidText, readErr := os.ReadFile(pidFile)
	if readErr != nil {
		t.Fatal(readErr)
	}
	procPath := "/proc/" + strings.TrimSpace(string(pidText))
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		status, err := os.ReadFile(procPath + "/status")
		if err != nil || strings.Contains(string(status), "State:\tZ") {
			return // gone, or a zombie waiting for init to reap it
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("background child %s survived the timeout", procPath)
}

func assertFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != content {
		t.Errorf("%s holds %q, want %q", path, data, content)
	}
	if mode == 0 {
		return
	}
	info, _ := os.Stat(path)
	if info.Mode().Perm() != mode {
		t.Errorf("%s mode %o, want %o", path, info.Mode().Perm(), mode)
	}
}

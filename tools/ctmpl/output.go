package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// WriteOptions are the consul-template template-stanza settings.
type WriteOptions struct {
	Perms          os.FileMode // zero: keep the existing mode, else 0644
	Backup         bool
	CreateDestDirs bool
}

const defaultPerms os.FileMode = 0o644

// writeIfChanged replaces destination with content atomically (temp file
// in the same directory, then rename) unless it already holds exactly
// that. It reports whether it wrote.
func writeIfChanged(destination string, content []byte, opts WriteOptions) (bool, error) {
	existing, existingInfo, err := readExisting(destination)
	if err != nil {
		return false, err
	}
	if existingInfo != nil && bytes.Equal(existing, content) && (opts.Perms == 0 || existingInfo.Mode().Perm() == opts.Perms) {
		return false, nil
	}
	if err := ensureDirectory(filepath.Dir(destination), opts.CreateDestDirs); err != nil {
		return false, err
	}
	mode := opts.Perms
	if mode == 0 {
		mode = defaultPerms
		if existingInfo != nil {
			mode = existingInfo.Mode().Perm()
		}
	}
	if opts.Backup && existingInfo != nil {
		if err := replaceFile(destination+".bak", existing, existingInfo.Mode().Perm(), existingInfo); err != nil {
			return false, fmt.Errorf("backup of %s: %v", destination, err)
		}
	}
	if err := replaceFile(destination, content, mode, existingInfo); err != nil {
		return false, fmt.Errorf("write %s: %v", destination, err)
	}
	return true, nil
}

func readExisting(destination string) ([]byte, os.FileInfo, error) {
	info, err := os.Stat(destination)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("destination: %v", err)
	}
	if !info.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("destination %s is not a regular file", destination)
	}
	content, err := os.ReadFile(destination)
	if err != nil {
		return nil, nil, fmt.Errorf("destination: %v", err)
	}
	return content, info, nil
}

func ensureDirectory(directory string, create bool) error {
	info, err := os.Stat(directory)
	switch {
	case err == nil && info.IsDir():
		return nil
	case err == nil:
		return fmt.Errorf("destination directory %s is not a directory", directory)
	case errors.Is(err, fs.ErrNotExist) && create:
		return os.MkdirAll(directory, 0o755)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("destination directory %s does not exist (use -create-dest-dirs)", directory)
	default:
		return err
	}
}

// replaceFile writes a temp file beside path and renames it over path, so
// readers (HAProxy's reload) never see a half-written file. The owner of
// the file it replaces is kept.
func replaceFile(path string, content []byte, mode os.FileMode, previous os.FileInfo) error {
	temp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".ctmpl-*")
	if err != nil {
		return err
	}
	tempName := temp.Name()
	committed := false
	defer func() {
		if !committed {
			os.Remove(tempName)
		}
	}()
	if _, err := temp.Write(content); err != nil {
		temp.Close()
		return err
	}
	if err := temp.Sync(); err != nil {
		temp.Close()
		return err
	}
	if err := temp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tempName, mode); err != nil {
		return err
	}
	if err := keepOwner(tempName, previous); err != nil {
		return err
	}
	if err := os.Rename(tempName, path); err != nil {
		return err
	}
	committed = true
	return nil
}

func keepOwner(path string, previous os.FileInfo) error {
	if previous == nil {
		return nil
	}
	stat, ok := previous.Sys().(*syscall.Stat_t)
	if !ok || (int(stat.Uid) == os.Geteuid() && int(stat.Gid) == os.Getegid()) {
		return nil
	}
	return os.Lchown(path, int(stat.Uid), int(stat.Gid))
}

// runCommand runs command with /bin/sh -c in its own process group and
// kills the whole group when it outlives timeout, so a hung reload script
// cannot hang the watch loop. stdout and stderr should be *os.File so Wait
// does not wait on pipes a background child keeps open.
func runCommand(command string, timeout time.Duration, stdout, stderr io.Writer) error {
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("command %q: %v", command, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("command %q failed: %v", command, err)
		}
		return nil
	case <-timer.C:
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return fmt.Errorf("command %q timed out after %s and was killed", command, timeout)
	}
}

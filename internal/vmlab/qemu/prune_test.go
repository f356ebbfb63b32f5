package qemu

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestPruneImagesKeepsRecentAndCurrent(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-imageMaxAge - time.Hour)
	files := map[string]time.Time{
		"initramfs-aaaa.cpio.gz": old,        // stale: removed
		"initramfs-bbbb.cpio.gz": old,        // stale but the one just written: kept
		"initramfs-cccc.cpio.gz": time.Now(), // reused lately: kept
		"vmlinuz-stale":          old,        // not an image: kept
	}
	for name, mtime := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	if err := pruneImages(dir, filepath.Join(dir, "initramfs-bbbb.cpio.gz")); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	want := []string{"initramfs-bbbb.cpio.gz", "initramfs-cccc.cpio.gz", "vmlinuz-stale"}
	if !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
}

package browsertest

import (
	"bytes"
	"image"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// ScreenshotsWanted reports whether this run writes screenshots:
// USHER_SCREENSHOTS=1, so a plain go test never changes the tree.
func ScreenshotsWanted() bool { return os.Getenv("USHER_SCREENSHOTS") == "1" }

// ScreenshotDir is where screenshots go: docs/screenshots of the module
// the test runs in (found by walking up to its go.mod).
func ScreenshotDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "docs", "screenshots")
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod above the test's directory: cannot place screenshots")
		}
		dir = up
	}
}

func writeScreenshot(t testing.TB, name string, shot []byte) {
	t.Helper()
	dir := ScreenshotDir(t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".png")
	if old, err := os.ReadFile(path); err == nil && samePicture(old, shot) {
		return // Chromium's bytes differ from run to run; the picture did not.
	}
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d KiB)", filepath.Join("docs", "screenshots", name+".png"), len(shot)/1024)
}

// samePicture reports whether two PNGs show the same pixels.
func samePicture(a, b []byte) bool {
	pa, errA := pixels(a)
	pb, errB := pixels(b)
	return errA == nil && errB == nil && pa.Rect == pb.Rect && bytes.Equal(pa.Pix, pb.Pix)
}

func pixels(b []byte) (*image.RGBA, error) {
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	rgba := image.NewRGBA(img.Bounds())
	draw.Draw(rgba, rgba.Rect, img, img.Bounds().Min, draw.Src)
	return rgba, nil
}

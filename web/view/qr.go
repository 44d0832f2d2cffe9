package view

import (
	"bytes"
	"encoding/xml"
	"fmt"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/usherhq/usher"
)

// QR code images of sign-up links: a PNG is size × size pixels.
const (
	QRMinSize     = 128
	QRMaxSize     = 2048
	QRDefaultSize = 512
)

// SignupQR encodes the public address of a sign-up link. Medium error
// correction survives a smudged print without making the code dense.
func SignupQR(links Links, tn usher.Tenant, l usher.SignupLink) (*qrcode.QRCode, error) {
	qr, err := qrcode.New(links.SignUp(tn, l.Code), qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("encode QR code: %w", err)
	}
	return qr, nil
}

// QRPNG is the sign-up link's QR code as a PNG file of size × size pixels.
func QRPNG(qr *qrcode.QRCode, l usher.SignupLink, size int) (File, error) {
	png, err := qr.PNG(size)
	if err != nil {
		return File{}, fmt.Errorf("draw QR code: %w", err)
	}
	return File{ContentType: "image/png", Filename: "signup-link-" + l.ID + ".png", Body: png}, nil
}

// QRSVG is the sign-up link's QR code as an SVG file.
func QRSVG(qr *qrcode.QRCode, l usher.SignupLink) File {
	return File{ContentType: "image/svg+xml", Filename: "signup-link-" + l.ID + ".svg", Body: qrSVG(qr.Bitmap(), l.Name)}
}

// qrSVG draws a QR bitmap (quiet zone included) as one path of unit
// squares on a white background, in module units, so it scales to any print
// size; crispEdges keeps renderers from blurring the seams between modules.
func qrSVG(bitmap [][]bool, title string) []byte {
	n := len(bitmap)
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" shape-rendering="crispEdges" role="img">`, n, n, n*8, n*8)
	b.WriteString("<title>")
	_ = xml.EscapeText(&b, []byte(title))
	b.WriteString("</title>")
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y, row := range bitmap {
		for x, dark := range row {
			if dark {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x, y)
			}
		}
	}
	b.WriteString("\"/></svg>\n")
	return b.Bytes()
}

package sso

import "github.com/usherhq/usher"

// PresetNames is what a preset reads for each field of the protocol, its
// first candidate name each: what the console shows in an empty override.
func PresetNames(protocol, preset string) usher.AttributeMapping {
	return effective(usher.Connection{Protocol: protocol, Mapping: usher.AttributeMapping{Preset: preset}}).named()
}

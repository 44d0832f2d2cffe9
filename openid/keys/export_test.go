package keys

// KeyPurpose is what a signing key's private key is sealed for.
var KeyPurpose = keyPurpose

package oidc

// Compares is how many bcrypt compares the process ran, and the most
// that ran at once since ResetComparePeak.
func Compares() (total, peak int64) { return compares.total.Load(), compares.peak.Load() }

// ResetComparePeak starts a new count of the most compares at once.
func ResetComparePeak() { compares.peak.Store(compares.running.Load()) }

// CompareSlots is how many compares may run at once.
func CompareSlots() int { return compareSlots() }

// AuthPerAddress is the checks an address may need compared in a window.
const AuthPerAddress = authPerAddress

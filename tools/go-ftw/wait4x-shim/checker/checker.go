// Package checker is the minimal subset of wait4x.dev/v3/checker that go-ftw v2.1.0 uses.
package checker

import "context"

// Checker checks whether a resource is ready.
type Checker interface {
	// Identity names the checked resource (for logs).
	Identity() (string, error)
	// Check returns nil when the resource is ready.
	Check(ctx context.Context) error
}

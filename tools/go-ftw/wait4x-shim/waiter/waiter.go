// Package waiter is the minimal subset of wait4x.dev/v3/waiter that go-ftw v2.1.0 uses:
// poll every checker until all pass or the timeout expires.
package waiter

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"wait4x.dev/v3/checker"
)

type options struct {
	timeout  time.Duration
	interval time.Duration
	logger   logr.Logger
}

// Option configures waiting.
type Option func(*options)

// WithTimeout bounds the whole wait (0: no bound).
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithInterval sets the delay between attempts.
func WithInterval(d time.Duration) Option { return func(o *options) { o.interval = d } }

// WithLogger sets the logger for failed attempts.
func WithLogger(l logr.Logger) Option { return func(o *options) { o.logger = l } }

// WaitParallelContext waits for all checkers concurrently; the first error is returned.
func WaitParallelContext(ctx context.Context, checkers []checker.Checker, opts ...Option) error {
	o := options{timeout: 10 * time.Second, interval: time.Second, logger: logr.Discard()}
	for _, f := range opts {
		f(&o)
	}
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	errs := make([]error, len(checkers))
	var wg sync.WaitGroup
	for i, c := range checkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = wait(ctx, c, o)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func wait(ctx context.Context, c checker.Checker, o options) error {
	id, _ := c.Identity()
	for {
		err := c.Check(ctx)
		if err == nil {
			o.logger.Info("ready", "target", id)
			return nil
		}
		o.logger.Info("not ready yet", "target", id, "error", err.Error())
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last error: %v)", id, ctx.Err(), err)
		case <-time.After(o.interval):
		}
	}
}

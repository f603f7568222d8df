package main

import (
	"context"
	"log"
	"math/rand"
	"reflect"
	"sync/atomic"
	"time"
)

// Pacing of every view's loop. Vars, not consts, so tests can shorten them.
var (
	// minQueryInterval rate-limits a view: a blocking query that returns at
	// once (index reset, busy cluster) must not turn into a hot loop.
	minQueryInterval = 250 * time.Millisecond
	retryBaseDelay   = 250 * time.Millisecond
	retryMaxDelay    = 30 * time.Second
)

// onceRetries is how often -once retries a transient failure before it
// gives up; the caller (a Salt state) retries as a whole anyway.
const onceRetries = 2

// view watches one dependency with blocking queries and stores each new
// answer in the brain.
type view struct {
	dep          Dependency
	client       *ConsulClient
	brain        *Brain
	blockingWait time.Duration
	once         bool
	logger       *log.Logger
	verbose      bool
	notify       func()
	fail         func(error)
	// fetchSlots bounds concurrent non-blocking reads, so a template over
	// a thousand services does not open a thousand connections at once.
	fetchSlots chan struct{}
	// settled opens once the templates' first data is all in; blocking
	// queries wait for it so they do not compete with the first reads.
	settled <-chan struct{}

	received atomic.Bool
	cancel   context.CancelFunc
	done     chan struct{}

	lastIndex uint64
	lastData  any
}

func (v *view) start(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	v.cancel = cancel
	v.done = make(chan struct{})
	go func() {
		defer close(v.done)
		v.run(ctx)
	}()
}

// stop ends the loop and waits for it, so no late write reaches the brain.
func (v *view) stop() {
	v.cancel()
	<-v.done
}

func (v *view) run(ctx context.Context) {
	failures := 0
	for ctx.Err() == nil {
		started := time.Now()
		data, meta, err := v.fetch(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			failures++
			if !v.handleFailure(ctx, err, failures) {
				return
			}
			// The next answer may come from a restarted or different server
			// whose index is lower: a blocking query would then hang until
			// ?wait runs out, so re-read without blocking first.
			v.lastIndex = 0
			continue
		}
		if failures > 0 && !v.once {
			v.logger.Printf("%s: Consul answers again", v.dep.ID())
		}
		failures = 0
		v.accept(data, meta)
		if v.once && !isAbsentKey(data) {
			// -once needs one answer; only a missing `key` is worth waiting on.
			return
		}
		pause(ctx, rateLimitDelay(time.Since(started)))
	}
}

func (v *view) fetch(ctx context.Context) (any, QueryMeta, error) {
	opts := QueryOptions{Index: v.lastIndex, Wait: v.blockingWait}
	if opts.Index > 0 && v.settled != nil {
		select {
		case <-v.settled:
		case <-ctx.Done():
			return nil, QueryMeta{}, ctx.Err()
		}
	}
	if opts.Index == 0 && v.fetchSlots != nil {
		select {
		case v.fetchSlots <- struct{}{}:
			defer func() { <-v.fetchSlots }()
		case <-ctx.Done():
			return nil, QueryMeta{}, ctx.Err()
		}
	}
	return v.dep.Fetch(ctx, v.client, opts)
}

func isAbsentKey(data any) bool {
	value, ok := data.(kvValue)
	return ok && !value.Exists
}

// accept stores a new answer and wakes the renderer when it differs.
func (v *view) accept(data any, meta QueryMeta) {
	index := meta.Index
	switch {
	case index == 0:
		// Consul never answers 0; treat it as "no usable index" but keep
		// the next query blocking.
		index = 1
	case index < v.lastIndex:
		// The index went backwards (snapshot restore, reaped tombstones):
		// start over with a non-blocking read.
		if v.verbose {
			v.logger.Printf("%s: index went back from %d to %d; resetting", v.dep.ID(), v.lastIndex, index)
		}
		v.lastIndex = 0
		return
	}
	first := !v.received.Load()
	v.lastIndex = index
	if !first && reflect.DeepEqual(data, v.lastData) {
		return
	}
	v.lastData = data
	v.brain.Remember(v.dep.ID(), data)
	v.received.Store(true)
	if v.verbose {
		v.logger.Printf("%s: new data at index %d", v.dep.ID(), index)
	}
	v.notify()
}

// handleFailure decides between retrying after a backoff and giving up.
// In -once mode a permanent error (403, 400) or repeated failure ends the
// run; in watch mode the view keeps trying, as consul-template does.
func (v *view) handleFailure(ctx context.Context, err error, failures int) bool {
	if v.once && (isPermanent(err) || failures > onceRetries) {
		v.fail(err)
		return false
	}
	// Log the first failure and then every tenth, so an outage of Consul
	// does not flood the log from every view.
	if !v.once && (failures == 1 || failures%10 == 0) {
		v.logger.Printf("%s: %v (attempt %d, retrying)", v.dep.ID(), err, failures)
	}
	pause(ctx, retryDelay(failures))
	return true
}

func rateLimitDelay(elapsed time.Duration) time.Duration {
	if elapsed >= minQueryInterval {
		return 0
	}
	jitter := time.Duration(rand.Int63n(int64(minQueryInterval)/4 + 1))
	return minQueryInterval - elapsed + jitter
}

// retryDelay doubles from retryBaseDelay up to retryMaxDelay.
func retryDelay(failures int) time.Duration {
	delay := retryBaseDelay
	for i := 1; i < failures && delay < retryMaxDelay; i++ {
		delay *= 2
	}
	if delay > retryMaxDelay {
		delay = retryMaxDelay
	}
	return delay
}

// pause sleeps unless the context ends first.
func pause(ctx context.Context, delay time.Duration) {
	if delay <= 0 {
		return
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}

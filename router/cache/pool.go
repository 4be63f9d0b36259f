package cache

import "sync"

var keyers sync.Pool

// maxPooledKeyer is the scratch size beyond which a released Keyer is dropped,
// so one huge request body does not pin its buffers in the pool forever.
const maxPooledKeyer = 1 << 20

// AcquireKeyer returns a Keyer from a pool; give it back with ReleaseKeyer.
// Both allocate nothing in steady state.
func AcquireKeyer() *Keyer {
	if k, ok := keyers.Get().(*Keyer); ok {
		return k
	}
	return new(Keyer)
}

// ReleaseKeyer returns k to the pool. k must not be used afterwards.
func ReleaseKeyer(k *Keyer) {
	if cap(k.buf)+cap(k.tmp) > maxPooledKeyer {
		return
	}
	keyers.Put(k)
}

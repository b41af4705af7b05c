package batchrepo_test

import (
	"testing"

	"gatehouse/adapter/repository/bunrepo/bunrepotest"
	"gatehouse/adapter/repository/repotest"
	"gatehouse/infrastructure/database/dbtest"
)

// TestContract runs the storage contract on the repositories with this package's fast
// paths, on every reachable backend, in parallel: the same contract the plain
// repositories pass (bunrepo's TestContract).
func TestContract(t *testing.T) {
	for name, url := range dbtest.All(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			repotest.RunAllBatched(t, bunrepotest.Open(t, url))
		})
	}
}

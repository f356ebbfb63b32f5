// Package disttest runs the built otelcol-vnetpath distribution as a user
// would. Its tests carry the disttest build tag; `make smoke` runs them with
// -dist pointing at the binary.
package disttest

//go:generate mdatagen metadata.yaml

// Package sliprocessor derives SLIs over sliding windows from the vnet
// receivers' cumulative metrics, keeps SLO error budgets with multiwindow
// burn-rate alerts, and runs triggers that fire actions.
package sliprocessor // import "github.com/vnetpath/vnetpath/processor/sliprocessor"

package guestagent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// ScopeName is the instrumentation scope of the spans SPAN sends.
const ScopeName = "github.com/vnetpath/vnetpath/internal/vmlab/guestagent"

// sendSpan exports one internal span named name, carrying nonce, to the
// OTLP/gRPC receiver at endpoint (host:port, plaintext).
func sendSpan(ctx context.Context, endpoint, name, nonce string) (SpanRef, error) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "vnetlab-guest")
	if host, err := os.Hostname(); err == nil {
		rs.Resource().Attributes().PutStr("host.name", host)
	}
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName(ScopeName)
	sp := ss.Spans().AppendEmpty()
	var tid pcommon.TraceID
	var sid pcommon.SpanID
	_, _ = rand.Read(tid[:]) // crypto/rand.Read never fails
	_, _ = rand.Read(sid[:])
	now := time.Now()
	sp.SetTraceID(tid)
	sp.SetSpanID(sid)
	sp.SetName(name)
	sp.SetKind(ptrace.SpanKindInternal)
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
	sp.Attributes().PutStr(NonceKey, nonce)
	ref := SpanRef{TraceID: hex.EncodeToString(tid[:]), SpanID: hex.EncodeToString(sid[:])}

	cc, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return ref, fmt.Errorf("otlp client for %s: %w", endpoint, err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := ptraceotlp.NewGRPCClient(cc).Export(ctx, ptraceotlp.NewExportRequestFromTraces(td)); err != nil {
		return ref, fmt.Errorf("otlp export to %s: %w", endpoint, err)
	}
	return ref, nil
}

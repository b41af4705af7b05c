package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"gatehouse/usecase"
)

// Pinger reports whether the database answers.
type Pinger interface {
	PingContext(ctx context.Context) error
}

// Health serves liveness, readiness and metrics.
type Health struct {
	db       Pinger
	registry *prometheus.Registry
}

// NewHealth builds the health endpoints.
func NewHealth(db Pinger, registry *prometheus.Registry) *Health {
	return &Health{db: db, registry: registry}
}

// Live: the process serves HTTP.
func (h *Health) Live(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// Ready: the database answers within two seconds.
func (h *Health) Ready(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := h.db.PingContext(ctx); err != nil {
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "database": "unreachable"})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok", "database": "ok"})
}

// Metrics serves the Prometheus text format.
func (h *Health) Metrics() echo.HandlerFunc {
	return echo.WrapHandler(promhttp.HandlerFor(h.registry, promhttp.HandlerOpts{}))
}

// Metrics are the HTTP and token counters. Names are part of the product:
// dashboards rely on them.
type Metrics struct {
	Requests     *prometheus.CounterVec
	Duration     *prometheus.HistogramVec
	TokensIssued *prometheus.CounterVec
	// ClientAuthFailures counts failed client authentications by reason
	// (usecase.ClientAuthReasons), every reason present from the start.
	ClientAuthFailures *prometheus.CounterVec
}

// NewMetrics registers the collectors on registry.
func NewMetrics(registry *prometheus.Registry) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gatehouse_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		TokensIssued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_tokens_issued_total", Help: "Successful token endpoint responses by grant type.",
		}, []string{"grant_type"}),
		ClientAuthFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_client_auth_failures_total", Help: "Failed client authentications by reason.",
		}, []string{"reason"}),
	}
	for _, r := range usecase.ClientAuthReasons() {
		m.ClientAuthFailures.WithLabelValues(string(r))
	}
	registry.MustRegister(m.Requests, m.Duration, m.TokensIssued, m.ClientAuthFailures)
	return m
}

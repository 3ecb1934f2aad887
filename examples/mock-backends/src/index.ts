/**
 * @kefu/mock-backends: real HTTP services on loopback standing in for the business systems a desk
 * talks to. Used by tests, the demo desk and the benchmarks. Not for production.
 */

// --- profile sources: CRM, orders, membership ----------------------------------------------------

// --- saga back ends: helpdesk, ERP ------------------------------------------------------------------
export {};

// Imported by every benchmark server: exit normally on SIGINT/SIGTERM so that
// `--cpu-prof` (BENCH_NODE_FLAGS) gets to write its profile.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));

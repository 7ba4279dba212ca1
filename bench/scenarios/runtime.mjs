// Scenarios of the whole runtime. Each names the piece of svc it waits for
// until that piece is on main; none is measured against a stand-in.
const waiting = [['log call to its line in `svc tail`', '`svc tail` and the log stream']];

export default waiting.map(([name, piece]) => ({ name, waitsFor: async () => piece }));

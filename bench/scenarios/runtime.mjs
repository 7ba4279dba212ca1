// Scenarios of the whole runtime. Each names the piece of svc it waits for
// until that piece is on main; none is measured against a stand-in.
const waiting = [
  ['`svc node` cold start of the lymph tour (9 processes)', '`svc node` and examples/lymph-tour'],
  ['restart of a SIGKILLed instance until it answers', '`svc node` supervision'],
  ['log call to its line in `svc tail`', '`svc tail` and the log stream'],
];

export default waiting.map(([name, piece]) => ({ name, waitsFor: async () => piece }));

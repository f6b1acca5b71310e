// A deterministic flame tree of N nodes in the read API's columnar form
// (depth-first pre-order), shaped like a Go service: a few thousand
// functions across packages, depth up to ~40, fan-out falling with depth.

export function generateTree(nodes, seed = 42) {
  let s = seed >>> 0;
  const rand = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const names = ["total"];
  for (let p = 0; p < 120; p++) for (let f = 0; f < 40; f++) names.push(`github.com/acme/svc/pkg${p}.(*Type${f % 7}).Method${f}`);
  const name = [];
  const depth = [];
  const self = [];
  // pre-order generation with a node budget
  let budget = nodes;
  function grow(d) {
    const idx = name.length;
    name.push(d === 0 ? 0 : 1 + Math.floor(rand() * (names.length - 1)));
    depth.push(d);
    self.push(0);
    budget--;
    const fan = d === 0 ? 12 : Math.max(0, Math.round((rand() * 6) / (1 + d / 8)));
    let children = 0;
    for (let c = 0; c < fan && budget > 0 && d < 40; c++) {
      grow(d + 1);
      children++;
    }
    if (children === 0 || rand() < 0.2) self[idx] = 1 + Math.floor(rand() * 1000);
  }
  while (budget > 0) {
    if (name.length === 0) grow(0);
    else {
      // more top-level subtrees under the root
      const before = name.length;
      growChild();
      if (name.length === before) break;
    }
  }
  function growChild() {
    grow(1);
  }
  // totals bottom-up
  const total = self.slice();
  const stack = [];
  for (let i = 0; i < name.length; i++) {
    while (stack.length && depth[stack[stack.length - 1]] >= depth[i]) stack.pop();
    stack.push(i);
  }
  for (let i = name.length - 1; i > 0; i--) {
    let p = i - 1;
    while (depth[p] >= depth[i]) p--;
    total[p] += total[i];
  }
  return { scale: 1, names, name, depth, total, self, pruned_nodes: 0, pruned_value: 0 };
}

/** The same tree as nested {name, value, children} (d3-flame-graph's input). */
export function nested(tree) {
  const root = { name: tree.names[tree.name[0]], value: tree.total[0], children: [] };
  const path = [root];
  for (let i = 1; i < tree.name.length; i++) {
    const node = { name: tree.names[tree.name[i]], value: tree.total[i], children: [] };
    path.length = tree.depth[i];
    path[path.length - 1].children.push(node);
    path.push(node);
  }
  return root;
}

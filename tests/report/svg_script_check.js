// Runs the flame graph's own script (from `heapscope report --svg`) against a
// minimal DOM built from the SVG's frames, and checks that zoom, reset and
// search do what they should. Input (stdin): JSON {script, frames:[{name,
// title, x, y, w, fill}], target, query, expect_matched} written by
// rptest.py. Prints "ok" or throws.
"use strict";
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));

function el(tag, attrs, text) {
  const e = {
    tag, attrs: Object.assign({}, attrs), children: [], textContent: text || "",
    listeners: {}, classes: new Set(),
    getAttribute(k) { return this.attrs[k]; },
    setAttribute(k, v) { this.attrs[k] = String(v); },
    getElementsByTagName(t) {
      const out = [];
      const walk = (n) => n.children.forEach((c) => { if (c.tag === t) out.push(c); walk(c); });
      walk(this);
      return out;
    },
    addEventListener(ev, fn) { this.listeners[ev] = fn; },
  };
  e.classList = {
    add: (c) => e.classes.add(c), remove: (c) => e.classes.delete(c),
    contains: (c) => e.classes.has(c),
  };
  return e;
}

const byId = {};
for (const id of ["details", "reset", "search", "matched"]) byId[id] = el("text", {}, " ");
byId.reset.classList.add("hide");
const framesG = el("g");
byId.frames = framesG;
const frames = input.frames.map((f) => {
  const g = el("g", { class: "f" });
  g.children.push(el("title", {}, f.title));
  g.children.push(el("rect", { x: f.x, y: f.y, width: f.w, fill: f.fill }));
  g.children.push(el("text", { x: f.x + 3 }, ""));
  framesG.children.push(g);
  return g;
});
global.document = { getElementById: (id) => byId[id] };
global.window = { addEventListener() {} };
let answer = input.query;
global.prompt = () => answer;
global.alert = (m) => { throw new Error("alert: " + m); };

new Function(input.script + "\nglobal.hs_init = hs_init;")();
global.hs_init({});

const rect = (g) => g.getElementsByTagName("rect")[0];
const num = (g, k) => Number(rect(g).getAttribute(k));
const W = 1200, PAD = 10;
const close = (a, b) => Math.abs(a - b) < 0.05;

// zoom into the target frame: it spans the width, its callers (below) too,
// frames outside its range are hidden, those inside scaled.
const t = frames[input.frames.findIndex((f) => f.name === input.target)];
const t0 = input.frames[frames.indexOf(t)];
t.listeners.click.call(t, {});
if (!close(num(t, "x"), PAD) || !close(num(t, "width"), W - 2 * PAD))
  throw new Error("zoomed frame not full width: " + num(t, "x") + " " + num(t, "width"));
if (byId.reset.classList.contains("hide")) throw new Error("reset not shown after zoom");
const scale = (W - 2 * PAD) / t0.w;
input.frames.forEach((f, i) => {
  const g = frames[i];
  const inside = f.y <= t0.y && f.x >= t0.x - 1e-6 && f.x + f.w <= t0.x + t0.w + 1e-6;
  const below = f.y > t0.y && f.x <= t0.x + 1e-6 && f.x + f.w >= t0.x + t0.w - 1e-6;
  const hidden = g.classes.has("hide");
  if (inside) {
    if (hidden) throw new Error("frame inside the zoom hidden: " + f.name);
    if (!close(num(g, "x"), PAD + (f.x - t0.x) * scale) || !close(num(g, "width"), f.w * scale))
      throw new Error("frame not rescaled: " + f.name);
  } else if (below) {
    if (hidden || !close(num(g, "width"), W - 2 * PAD)) throw new Error("caller not spanning: " + f.name);
  } else if (!hidden) {
    throw new Error("frame outside the zoom still shown: " + f.name);
  }
});
// reset
byId.reset.listeners.click();
input.frames.forEach((f, i) => {
  const g = frames[i];
  if (g.classes.has("hide") || !close(num(g, "x"), f.x) || !close(num(g, "width"), f.w))
    throw new Error("reset did not restore " + f.name);
});
// search: matching frames highlighted, their share reported
byId.search.listeners.click();
const m = /Matched: ([\d.]+)%/.exec(byId.matched.textContent);
if (!m || Math.abs(Number(m[1]) - input.expect_matched) > 0.1)
  throw new Error("search share " + byId.matched.textContent + ", expected " + input.expect_matched);
input.frames.forEach((f, i) => {
  const hit = new RegExp(input.query).test(f.name);
  if ((rect(frames[i]).getAttribute("fill") === "rgb(230,0,230)") !== hit)
    throw new Error("highlight wrong for " + f.name);
});
byId.search.listeners.click(); // Reset Search
if (frames.some((g, i) => rect(g).getAttribute("fill") !== input.frames[i].fill))
  throw new Error("reset search left highlights");
console.log("ok");

"use strict";
// Flywheel report: renders the embedded, gzip-compressed JSON data. Every value from the data (model output,
// item fields, grader reasons) is untrusted and reaches the page only through textContent, never as HTML.
(function () {
  const PAGE = 50;
  const el = (tag, attrs, ...kids) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v; else if (k === "text") node.textContent = v; else node.setAttribute(k, v);
    }
    for (const kid of kids) if (kid !== null && kid !== undefined) node.append(kid);
    return node;
  };
  const fmt = (x, d = 3) => (x === null || x === undefined ? "-" : Number(x).toFixed(d));
  const signed = (x) => (x >= 0 ? "+" : "") + Number(x).toFixed(3);
  const num = (x) => Number(x).toLocaleString("en-US");
  const capNote = (cut) => el("span", { class: "cap", text: ` (capped at ${num(cut[0])} of ${num(cut[1])} characters)` });

  async function load() {
    const raw = atob(document.getElementById("report-data").textContent.trim());
    const bytes = Uint8Array.from(raw, (c) => c.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return JSON.parse(await new Response(stream).text());
  }

  function table(head, rows, cls) {
    const t = el("table", cls ? { class: cls } : {});
    const tr = el("tr");
    for (const h of head) tr.append(el("th", { text: h[0], class: h[1] || "" }));
    t.append(el("thead", {}, tr));
    const body = el("tbody");
    for (const r of rows) body.append(r);
    t.append(body);
    return t;
  }
  const td = (text, cls) => el("td", { text: String(text), class: cls || "" });

  function summary(data) {
    const rows = data.summary.map((s) => el("tr", {},
      td(s.eval), td(s.model), td(s.metric), td(fmt(s.value), "num"),
      td(`[${fmt(s.ci_low)}, ${fmt(s.ci_high)}]`, "num"), td(s.n, "num"), td(s.errors, "num"),
      td(s.floor, s.floor), td("$" + Number(s.cost_usd).toFixed(4), "num")));
    document.getElementById("summary").append(table(
      [["eval"], ["model"], ["metric"], ["value", "num"], ["95% interval", "num"], ["n", "num"], ["errors", "num"],
       ["floor"], ["cost", "num"]], rows, "summary-table"));
  }

  function gate(data) {
    const g = data.gate;
    const box = document.getElementById("gate");
    if (!g) return;
    box.hidden = false;
    document.getElementById("nav-gate").hidden = false;
    box.append(el("p", { class: "verdict" }, "Verdict: ", el("span", { class: g.verdict, text: g.verdict }),
      el("span", { class: "muted", text: ` (base ${g.base ? g.base.ref : "?"} @ ${g.base ? String(g.base.sha).slice(0, 7) : "?"})` })));
    if (g.policy_changes.length) {
      box.append(el("h3", { text: "Changes to the gate's own inputs (the base ref's versions were used)" }));
      box.append(el("ul", {}, ...g.policy_changes.map((c) => el("li", { text: c }))));
    }
    for (const e of g.evals) {
      box.append(el("h3", { text: `${e.eval} · ${e.model}: ` }, el("span", { class: e.verdict, text: e.verdict })));
      box.append(el("p", { class: "muted", text: e.note }));
      const rows = (e.metrics || []).map((m) => el("tr", {},
        td(m.name), td(m.verdict, m.verdict), td(fmt(m.base_value), "num"), td(fmt(m.head_value), "num"),
        td(signed(m.delta), "num"), td(`[${signed(m.ci_low)}, ${signed(m.ci_high)}]`, "num"),
        td(Number(m.p_adjusted ?? m.p_value).toPrecision(3), "num"), td(m.n, "num"),
        td(m.mde === null || m.mde === undefined ? "-" : fmt(m.mde), "num"), td(m.n_needed || "-", "num"), td(m.reason)));
      if (rows.length) box.append(table([["metric"], ["verdict"], ["base", "num"], ["head", "num"], ["effect", "num"],
        ["interval of the effect", "num"], ["p (drop, Holm)", "num"], ["n", "num"], ["MDE", "num"], ["n needed", "num"],
        ["why"]], rows, "gate-metrics"));
      if (!e.flips.length) continue;
      const frows = e.flips.map((f) => {
        const side = (s, score) => el("td", {}, el("span", { class: score >= 1 ? "pass" : "fail", text: score >= 1 ? "pass" : "fail" }),
          s ? el("pre", { text: s.output ?? `(no output: ${s.error || "call failed"})` }) : el("div", { class: "muted", text: "output not kept (committed baseline)" }),
          s && s.reasons[f.metric] ? el("div", { class: "reason", text: s.reasons[f.metric] }) : null);
        const h = f.head_sample;
        const expected = h ? Object.entries(h.references).map(([k, v]) => `${k}: ${v}`).join("\n") : "";
        const input = h && h.input ? h.input.filter((m) => m.role === "user").map((m) => m.content).join("\n") : "";
        return el("tr", {}, td(f.item), td(f.metric), el("td", {}, el("pre", { text: input })), el("td", {}, el("pre", { text: expected })),
          side(f.base_sample, f.base), side(h, f.head));
      });
      box.append(el("h3", { text: `Flipped items (${e.flips.length})` }));
      box.append(table([["item"], ["metric"], ["input"], ["expected"], ["base"], ["head"]], frows, "flips"));
    }
  }

  function comparisons(data) {
    if (!data.comparisons.length) return;
    const box = document.getElementById("comparison");
    box.hidden = false;
    document.getElementById("nav-comparison").hidden = false;
    const rows = data.comparisons.map((c) => el("tr", {}, td(c.eval), td(c.metric), td(c.base), td(c.head),
      td(fmt(c.base_value), "num"), td(fmt(c.head_value), "num"), td(signed(c.delta), "num"),
      td(`[${signed(c.ci_low)}, ${signed(c.ci_high)}]`, "num"), td(Number(c.p_value).toPrecision(3), "num"), td(c.n, "num")));
    box.append(table([["eval"], ["metric"], ["model A"], ["model B"], ["A", "num"], ["B", "num"], ["B - A", "num"],
      ["95% interval", "num"], ["p (B worse)", "num"], ["n paired", "num"]], rows, "comparison-table"));
  }

  function samples(data) {
    const box = document.getElementById("samples");
    const flipped = new Set();
    if (data.gate) for (const e of data.gate.evals) for (const f of e.flips) flipped.add(`${e.eval}\u0000${f.item}`);
    const state = { eval: 0, model: "", filter: "all", metric: "", q: "", page: 0, open: new Set() };
    const evalSel = el("select", { id: "eval" });
    data.evals.forEach((e, i) => evalSel.append(el("option", { value: String(i), text: e.name })));
    const modelSel = el("select", { id: "model" });
    const filterSel = el("select", { id: "filter" });
    for (const [v, t] of [["all", "all samples"], ["failing", "failing"], ["errors", "errors"], ["flipped", "flipped (gate)"]])
      filterSel.append(el("option", { value: v, text: t }));
    const metricSel = el("select", { id: "metric" });
    const search = el("input", { id: "search", type: "search", placeholder: "search id, input, output, reference" });
    const count = el("span", { id: "count", class: "muted" });
    const tableBox = el("div");
    const pager = el("div", { class: "pager" });
    box.append(el("div", { class: "controls" }, "Eval ", evalSel, " model ", modelSel, " show ", filterSel, " metric ", metricSel, search, count), tableBox, pager);

    function options() {
      const ev = data.evals[state.eval];
      modelSel.replaceChildren(el("option", { value: "", text: "all" }), ...[...new Set(ev.samples.map((s) => s.model))].map((m) => el("option", { value: m, text: m })));
      metricSel.replaceChildren(el("option", { value: "", text: "any" }), ...ev.metrics.map((m) => el("option", { value: m, text: m })));
    }
    function matches(ev, s) {
      if (state.model && s.model !== state.model) return false;
      const failing = state.metric ? s.scores[state.metric] && s.scores[state.metric][1] < 1 : s.failing;
      if (state.filter === "failing" && !failing) return false;
      if (state.filter === "errors" && !s.error) return false;
      if (state.filter === "flipped" && !flipped.has(`${ev.name}\u0000${s.id}`)) return false;
      if (state.q) {
        const hay = [s.id, s.output || "", s.error || "", ...Object.values(s.references), ...(s.input || []).map((m) => m.content)].join("\n").toLowerCase();
        if (!hay.includes(state.q)) return false;
      }
      return true;
    }
    function detail(s, ev) {
      const parts = [];
      parts.push(el("h3", { text: "Input" }));
      if (s.input) {
        for (const [i, m] of s.input.entries()) parts.push(el("div", {}, el("b", { text: m.role }), s.cuts[`input.${i}`] ? capNote(s.cuts[`input.${i}`]) : null), el("pre", { text: m.content }));
        if (s.cuts.input) parts.push(el("div", { class: "cap", text: `(the last ${s.cuts.input[0]} of ${s.cuts.input[1]} messages)` }));
      } else parts.push(el("div", { class: "muted", text: "rendered input not kept here" }));
      parts.push(el("h3", { text: "Reference" }));
      const refs = Object.entries(s.references);
      if (refs.length) for (const [k, v] of refs) parts.push(el("div", {}, el("b", { text: k }), s.cuts[`references.${k}`] ? capNote(s.cuts[`references.${k}`]) : null), el("pre", { class: "reference", text: v }));
      else parts.push(el("div", { class: "muted", text: "none recorded" }));
      parts.push(el("h3", {}, "Output", s.cuts.output ? capNote(s.cuts.output) : null, s.capped.output ? el("span", { class: "cap", text: ` (the result kept ${num(8000)} of ${num(s.capped.output)} characters)` }) : null));
      parts.push(el("pre", { class: "output", text: s.output ?? "(none)" }));
      if (s.error) parts.push(el("h3", { text: "Error" }), el("pre", { class: "error", text: s.error }));
      parts.push(el("h3", { text: "Graders" }));
      const rows = ev.metrics.map((m) => {
        const sc = s.scores[m] || [0, 0];
        return el("tr", {}, td(m), td(sc[1] >= 1 ? "pass" : "fail", sc[1] >= 1 ? "pass" : "fail"), td(fmt(sc[0]), "num"),
          el("td", { class: "reason", text: s.reasons[m] || "" }));
      });
      parts.push(table([["metric"], ["result"], ["score", "num"], ["reason"]], rows, "grades"));
      const tok = s.tokens ? `${s.tokens[0]} prompt + ${s.tokens[1]} completion tokens` : "tokens not recorded";
      parts.push(el("p", { class: "muted", text: `latency ${s.latency_s === null ? "n/a (cached, or not recorded)" : s.latency_s + " s"} · ${tok} · cost $${Number(s.cost_usd).toFixed(6)}` }));
      return parts;
    }
    function render() {
      const ev = data.evals[state.eval];
      const rows = ev.samples.filter((s) => matches(ev, s));
      const pages = Math.max(1, Math.ceil(rows.length / PAGE));
      state.page = Math.min(state.page, pages - 1);
      count.textContent = `${rows.length} of ${ev.samples.length} samples`;
      const body = [];
      for (const s of rows.slice(state.page * PAGE, (state.page + 1) * PAGE)) {
        const key = `${s.model}\u0000${s.id}`;
        const tr = el("tr", { class: "sample", "data-id": s.id, "data-model": s.model }, td(s.id), td(s.model),
          ...ev.metrics.map((m) => { const sc = s.scores[m]; return sc ? td(sc[1] >= 1 ? "pass" : "fail", sc[1] >= 1 ? "pass" : "fail") : td("-"); }),
          el("td", { class: "excerpt", text: s.error ? `error: ${s.error}` : (s.output ?? "") }));
        body.push(tr);
        if (state.open.has(key)) body.push(el("tr", { class: "detail" }, el("td", { colspan: String(ev.metrics.length + 3) }, ...detail(s, ev))));
        tr.addEventListener("click", () => { state.open.has(key) ? state.open.delete(key) : state.open.add(key); render(); });
      }
      tableBox.replaceChildren(table([["item"], ["model"], ...ev.metrics.map((m) => [m]), ["output"]], body, "sample-table"));
      const prev = el("button", { id: "prev", text: "previous" });
      const next = el("button", { id: "next", text: "next" });
      prev.disabled = state.page === 0;
      next.disabled = state.page >= pages - 1;
      prev.addEventListener("click", () => { state.page -= 1; render(); });
      next.addEventListener("click", () => { state.page += 1; render(); });
      pager.replaceChildren(prev, el("span", { id: "page", text: `page ${state.page + 1} of ${pages}` }), next);
    }
    evalSel.addEventListener("change", () => { state.eval = Number(evalSel.value); state.page = 0; options(); render(); });
    modelSel.addEventListener("change", () => { state.model = modelSel.value; state.page = 0; render(); });
    filterSel.addEventListener("change", () => { state.filter = filterSel.value; state.page = 0; render(); });
    metricSel.addEventListener("change", () => { state.metric = metricSel.value; state.page = 0; render(); });
    search.addEventListener("input", () => { state.q = search.value.toLowerCase(); state.page = 0; render(); });
    if (!data.evals.length) { box.append(el("p", { class: "muted", text: "no samples" })); return; }
    options();
    render();
  }

  load().then((data) => {
    document.getElementById("meta").textContent = `${data.kind === "gate" ? "Gate" : "Results"} · generated ${data.generated}`;
    summary(data);
    gate(data);
    comparisons(data);
    samples(data);
    document.body.setAttribute("data-ready", "1");
  }).catch((err) => {
    document.body.prepend(el("p", { class: "fail", text: `This report could not be read: ${err}` }));
  });
})();

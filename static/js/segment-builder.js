/* Segment builder (docs/segment-builder.md): edits a condition tree (design §4) in place.
 *
 * The state is the condition JSON itself: rendering never changes it, only the user's edits
 * do, so a tree saved through the API comes back unchanged. Every edit schedules a preview:
 * the tree is POSTed ~300 ms after the last change; an older answer never replaces a newer
 * one (each request has a sequence number, and a new request aborts the previous one).
 * The server's validation errors carry JSON paths; each is shown at the row it belongs to.
 */
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("sb-data").textContent);
  const form = document.getElementById("segment-form");
  const host = document.getElementById("sb-builder");
  const csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;
  const $ = (id) => document.getElementById(id);

  // --- vocabulary -------------------------------------------------------------------------
  const TEXT_OPS = [["eq", "is"], ["neq", "is not"], ["contains", "contains"],
    ["not_contains", "does not contain"], ["starts_with", "starts with"],
    ["ends_with", "ends with"], ["in", "is one of"], ["not_in", "is none of"],
    ["is_set", "is set"], ["is_not_set", "is not set"]];
  const NUMBER_OPS = [["eq", "equals"], ["neq", "does not equal"], ["gt", "is more than"],
    ["gte", "is at least"], ["lt", "is less than"], ["lte", "is at most"],
    ["between", "is between"], ["is_set", "is set"], ["is_not_set", "is not set"]];
  const OPS = {
    text: TEXT_OPS, choice: TEXT_OPS, number: NUMBER_OPS,
    boolean: [["is_true", "is true"], ["is_false", "is false"], ["is_set", "is set"],
      ["is_not_set", "is not set"]],
    date: [["before", "is before"], ["after", "is after"], ["between", "is between"],
      ["within_last", "is within the last"], ["within_next", "is within the next"],
      ["older_than", "is more than … ago"], ["later_than", "is more than … from now"],
      ["is_set", "is set"], ["is_not_set", "is not set"]],
  };
  OPS.datetime = OPS.date;
  const PROPERTY_OPS = TEXT_OPS.slice(0, 8).concat(NUMBER_OPS.slice(2, 7), TEXT_OPS.slice(8));
  const NO_VALUE = new Set(["is_set", "is_not_set", "is_true", "is_false"]);
  const RELATIVE = new Set(["within_last", "within_next", "older_than", "later_than"]);
  const NUMERIC_PROPERTY_OPS = new Set(["gt", "gte", "lt", "lte", "between"]);
  const TYPES = [["field", "Contact field"], ["event", "Event"], ["email", "Email activity"],
    ["segment", "Segment"], ["tag", "Tag"], ["subscription", "Subscription"]];
  const EMAIL_OPS = [["opened", "opened an email"], ["clicked", "clicked a link in an email"],
    ["received", "received an email"], ["bounced", "had an email bounce"],
    ["unsubscribed", "unsubscribed through an email"], ["not_opened", "did not open an email"],
    ["not_clicked", "did not click a link in an email"]];
  const COUNT_OPS = [["gte", "at least"], ["lte", "at most"], ["eq", "exactly"]];
  const UNITS = [["days", "days"], ["hours", "hours"], ["minutes", "minutes"]];
  const DEFAULTS = {
    field: () => ({ type: "field", field: "", op: "eq", value: null }),
    event: () => ({ type: "event", event: "", op: "performed" }),
    email: () => ({ type: "email", op: "opened", within: { days: 30 } }),
    segment: () => ({ type: "segment", op: "in", segment: null }),
    tag: () => ({ type: "tag", op: "has", tag: "" }),
    subscription: () => ({ type: "subscription", op: "subscribed",
      topic: data.topics.length ? data.topics[0].key : "" }),
  };
  const fieldsByKey = Object.fromEntries(data.fields.map((f) => [f.key, f]));
  const label = (pairs, key) => (pairs.find((p) => p[0] === key) || [key, key])[1];

  // --- state ------------------------------------------------------------------------------
  // A tree whose root is a single condition is shown inside an `all` group and saved back
  // as that condition alone while the group still holds only it.
  if (!data.conditions || typeof data.conditions !== "object" || Array.isArray(data.conditions)) data.conditions = { all: [] };
  const rootIsLeaf = !("all" in data.conditions || "any" in data.conditions);
  let root = rootIsLeaf ? { all: [data.conditions] } : data.conditions;
  const serialize = () => (rootIsLeaf && root.all && root.all.length === 1 ? root.all[0] : root);
  const pathOf = (p) => (serialize() !== root ? p.replace(/^conditions\.all\[0\]/, "conditions") : p);
  let issues = data.errors || [];

  // --- words --------------------------------------------------------------------------------
  const today = () => new Date();
  const iso = (d, unit) => (unit === "days" ? d.toISOString().slice(0, 10)
    : d.toISOString().slice(0, 16).replace("T", " ") + " UTC");
  function shift(value, sign) {
    const unit = Object.keys(value || {})[0];
    const n = Number((value || {})[unit]);
    const ms = { days: 864e5, hours: 36e5, minutes: 6e4 }[unit];
    if (!ms || !Number.isFinite(n)) return null;
    return { unit, amount: `${n} ${n === 1 ? unit.replace(/s$/, "") : unit}`,
      at: new Date(today().getTime() + sign * n * ms) };
  }
  function windowWords(op, value) {
    const w = shift(value, op === "within_next" || op === "later_than" ? 1 : -1);
    if (!w) return "…";
    const now = iso(today(), w.unit), then = iso(w.at, w.unit);
    return {
      within_last: `within the last ${w.amount} (${then} → ${now})`,
      within_next: `within the next ${w.amount} (${now} → ${then})`,
      older_than: `more than ${w.amount} ago (before ${then})`,
      later_than: `more than ${w.amount} from now (after ${then})`,
    }[op];
  }
  const quote = (v) => (v === null || v === undefined || v === "" ? "…"
    : typeof v === "number" || typeof v === "boolean" ? String(v) : `“${v}”`);
  const list = (v) => (Array.isArray(v) && v.length ? v.map(quote).join(", ") : "…");
  function fieldWords(c) {
    const f = fieldsByKey[c.field];
    const name = f ? f.label : (c.field || "…");
    const ops = OPS[f ? f.type : "text"];
    if (NO_VALUE.has(c.op)) return `${name} ${label(ops, c.op)}`;
    if (RELATIVE.has(c.op)) return `${name} is ${windowWords(c.op, c.value)}`;
    if (c.op === "between") {
      const [lo, hi] = Array.isArray(c.value) ? c.value : [];
      return `${name} is between ${quote(lo)} and ${quote(hi)}`;
    }
    if (c.op === "in" || c.op === "not_in") return `${name} ${label(ops, c.op)} ${list(c.value)}`;
    return `${name} ${label(ops, c.op)} ${quote(c.value)}`;
  }
  function withinWords(within) {
    const w = shift(within, -1);
    return w ? ` in the last ${w.amount} (since ${iso(w.at, w.unit)})` : "";
  }
  function eventWords(c) {
    const count = c.count || { op: "gte", value: 1 };
    const times = count.value === 1 ? "once" : `${count.value ?? "…"} times`;
    const howOften = count.op === "gte" && count.value === 1 ? "" : ` ${label(COUNT_OPS, count.op)} ${times}`;
    const where = (c.where || []).map((w) => `${w.property || "…"} ${label(PROPERTY_OPS, w.op)}`
      + (NO_VALUE.has(w.op) ? "" : ` ${Array.isArray(w.value) ? list(w.value) : quote(w.value)}`));
    return `${c.op === "not_performed" ? "did not perform" : "performed"} ${c.event || "…"}`
      + howOften + withinWords(c.within) + (where.length ? ` where ${where.join(" and ")}` : "");
  }
  function leafWords(c) {
    switch (c.type) {
      case "field": return fieldWords(c);
      case "event": return eventWords(c);
      case "email": return label(EMAIL_OPS, c.op) + (c.template ? ` (template ${c.template})` : "")
        + (c.flow ? ` (flow ${c.flow})` : "") + withinWords(c.within);
      case "segment": {
        const s = data.segments.find((x) => x.id === c.segment);
        return `${c.op === "in" ? "is" : "is not"} in segment ${quote(s ? s.name : c.segment)}`;
      }
      case "tag": return `${c.op === "has" ? "has" : "does not have"} tag ${quote(c.tag)}`;
      case "subscription": {
        const t = data.topics.find((x) => x.key === c.topic);
        const topic = quote(t ? t.name : c.topic);
        return c.op === "subscribed" ? `is subscribed to ${topic}` : `is unsubscribed from ${topic}`;
      }
      default: return "unknown condition";
    }
  }
  function treeWords(node) {
    if (!node || typeof node !== "object") return "…";
    if ("not" in node) return `not (${treeWords(node.not)})`;
    const key = "all" in node ? "all" : "any" in node ? "any" : null;
    if (!key) return leafWords(node);
    const parts = node[key].map((child) => (child.all || child.any ? `(${treeWords(child)})` : treeWords(child)));
    return parts.length ? parts.join(key === "all" ? " and " : " or ") : "…";
  }

  // --- DOM helpers --------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    children.flat().forEach((c) => c && node.append(c));
    return node;
  }
  function select(aria, options, value, onchange, attrs) {
    const s = el("select", { class: "form-select form-select-sm", "aria-label": aria, ...attrs, onchange });
    let found = false;
    for (const [v, text] of options) {
      const selected = String(v) === String(value ?? "");
      found = found || selected;
      s.append(el("option", { value: v, selected, text }));
    }
    if (!found && value !== null && value !== undefined && value !== "") {
      s.append(el("option", { value, selected: true, text: `${value} (unknown)` }));
    }
    return s;
  }
  function input(aria, value, oninput, attrs) {
    return el("input", { class: "form-control form-control-sm", "aria-label": aria,
      value: value ?? "", oninput, ...attrs });
  }
  const numberOrNull = (text) => (text.trim() === "" || !Number.isFinite(Number(text)) ? null : Number(text));
  const intOrNull = (text) => (/^\s*\d+\s*$/.test(text) ? parseInt(text, 10) : (text.trim() === "" ? null : text));
  const splitList = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);

  // --- editors of one condition --------------------------------------------------------------
  // `edit(mutate, structural)`: mutate the condition; structural edits re-render the tree.
  function durationEditor(aria, value, set, optional) {
    const unit = value ? Object.keys(value)[0] : "";
    const amount = value ? value[unit] : "";
    const units = optional ? [["", "any time"], ...UNITS] : UNITS;
    const box = el("span", { class: "sb-duration", "data-part": "within" });
    const n = input(`${aria} amount`, amount, (e) => set({ [unit || "days"]: intOrNull(e.target.value) }, false),
      { type: "number", min: 0, step: 1, class: "form-control form-control-sm sb-num", hidden: !unit });
    box.append(select(`${aria} unit`, units, unit, (e) => {
      const u = e.target.value;
      set(u ? { [u]: unit ? amount : 30 } : undefined, true);
    }), n);
    if (optional && unit) box.prepend(el("span", { class: "sb-word", text: "in the last" }));
    return box;
  }

  function valueEditor(c, f, edit) {
    const type = f ? f.type : "text";
    const set = (v, structural) => edit((x) => { x.value = v; }, structural);
    if (NO_VALUE.has(c.op) || !f) return null;
    if (RELATIVE.has(c.op)) return durationEditor("Window", c.value, set, false);
    const dateLike = type === "date" || type === "datetime";
    const one = (aria, v, onset) => {
      if (type === "choice" && (c.op === "eq" || c.op === "neq")) {
        return select(aria, [["", "Choose…"], ...f.choices.map((x) => [x, x])], v, (e) => onset(e.target.value || null));
      }
      if (dateLike) {
        const plain = v === null || v === undefined || /^\d{4}-\d{2}-\d{2}$/.test(v);
        return input(aria, v, (e) => onset(e.target.value || null), { type: plain ? "date" : "text" });
      }
      if (type === "number") return input(aria, v, (e) => onset(numberOrNull(e.target.value)), { type: "number", step: "any" });
      return input(aria, v, (e) => onset(e.target.value === "" ? null : e.target.value));
    };
    if (c.op === "between") {
      const pair = Array.isArray(c.value) ? c.value : [null, null];
      const setAt = (i) => (v) => { const next = [...pair]; next[i] = v; set(next, false); pair[i] = v; };
      return el("span", { class: "sb-between", "data-part": "value" },
        one("From", pair[0], setAt(0)), el("span", { class: "sb-word", text: "and" }), one("To", pair[1], setAt(1)));
    }
    if (c.op === "in" || c.op === "not_in") {
      if (type === "choice") {
        const chosen = new Set(Array.isArray(c.value) ? c.value : []);
        return el("span", { class: "sb-choices", role: "group", "aria-label": "Values", "data-part": "value" },
          [...new Set([...f.choices, ...chosen])].map((choice) => el("label", { class: "form-check form-check-inline mb-0" },
            el("input", { type: "checkbox", class: "form-check-input", checked: chosen.has(choice), value: choice,
              onchange: (e) => { e.target.checked ? chosen.add(choice) : chosen.delete(choice); set([...chosen], false); } }),
            el("span", { class: "form-check-label", text: f.choices.includes(choice) ? choice : `${choice} (not a choice)` }))));
      }
      return input("Values, separated by commas", Array.isArray(c.value) ? c.value.join(", ") : c.value,
        (e) => set(splitList(e.target.value), false), { placeholder: "a, b, c", "data-part": "value" });
    }
    const single = one("Value", c.value, (v) => set(v, false));
    single.setAttribute("data-part", "value");
    return single;
  }

  // What a value looks like for an operator: kept when the operator changes within a shape.
  const shape = (op) => (NO_VALUE.has(op) ? "none" : RELATIVE.has(op) ? "window" : op === "between" ? "pair"
    : op === "in" || op === "not_in" ? "list" : "one");

  function fieldEditor(c, edit) {
    const f = fieldsByKey[c.field];
    const groups = [["", "Choose a field…"], ...data.fields.map((x) => [x.key, x.label + (x.builtin ? "" : ` (${x.type})`)])];
    const parts = [select("Field", groups, c.field, (e) => edit((x) => {
      const nf = fieldsByKey[e.target.value];
      x.field = e.target.value;
      x.op = nf ? OPS[nf.type][0][0] : "eq";
      x.value = null;
    }, true), { "data-part": "field" })];
    if (f) {
      parts.push(select("Operator", OPS[f.type], c.op, (e) => edit((x) => {
        const was = shape(x.op);
        x.op = e.target.value;
        if (NO_VALUE.has(x.op)) delete x.value;
        else if (shape(x.op) !== was || !("value" in x)) x.value = RELATIVE.has(x.op) ? { days: 30 } : null;
      }, true), { "data-part": "op" }));
      parts.push(valueEditor(c, f, edit));
    }
    return parts;
  }

  function propertyRow(c, w, i, edit) {
    const knownNow = () => (propertyCache[c.event] || []).find((p) => p.key === w.property);
    const known = knownNow();
    const setValue = (text) => {
      const known = knownNow();
      if (NUMERIC_PROPERTY_OPS.has(w.op)) return numberOrNull(text);
      if (known && known.type === "number" && numberOrNull(text) !== null) return numberOrNull(text);
      if (known && known.type === "boolean" && (text === "true" || text === "false")) return text === "true";
      return text === "" ? null : text;
    };
    const at = (mutate, structural) => edit((x) => mutate(x.where[i]), structural);
    let valueInput = null;
    if (w.op === "between") {
      const pair = Array.isArray(w.value) ? [...w.value] : [null, null];
      valueInput = el("span", { class: "sb-between", "data-part": `where[${i}].value` },
        input("Property from", pair[0], (e) => at((x) => { pair[0] = numberOrNull(e.target.value); x.value = [...pair]; }), { type: "number", step: "any" }),
        el("span", { class: "sb-word", text: "and" }),
        input("Property to", pair[1], (e) => at((x) => { pair[1] = numberOrNull(e.target.value); x.value = [...pair]; }), { type: "number", step: "any" }));
    } else if (w.op === "in" || w.op === "not_in") {
      valueInput = input("Property values, separated by commas", Array.isArray(w.value) ? w.value.join(", ") : w.value,
        (e) => at((x) => { x.value = splitList(e.target.value); }), { "data-part": `where[${i}].value` });
    } else if (!NO_VALUE.has(w.op)) {
      valueInput = input("Property value", w.value === null || w.value === undefined ? "" : String(w.value),
        (e) => at((x) => { x.value = setValue(e.target.value); }),
        { "data-part": `where[${i}].value`, list: known && known.examples.length ? `sb-ex-${cssId(c.event)}-${cssId(w.property)}` : null });
    }
    const examples = known ? el("datalist", { id: `sb-ex-${cssId(c.event)}-${cssId(w.property)}` },
      known.examples.map((v) => el("option", { value: v }))) : null;
    return el("li", { class: "sb-where" },
      el("span", { class: "sb-word", text: i ? "and" : "where" }),
      input("Property", w.property, (e) => at((x) => { x.property = e.target.value; }),
        { list: `sb-props-${cssId(c.event)}`, "data-part": `where[${i}].property` }),
      select("Property operator", PROPERTY_OPS, w.op, (e) => at((x) => {
        x.op = e.target.value;
        if (NO_VALUE.has(x.op)) delete x.value; else x.value = null;
      }, true), { "data-part": `where[${i}].op` }),
      valueInput, examples,
      el("button", { type: "button", class: "btn btn-sm btn-outline-secondary", "aria-label": `Remove property filter ${i + 1}`, text: "×",
        onclick: () => edit((x) => { x.where.splice(i, 1); if (!x.where.length) delete x.where; }, true) }));
  }

  function eventEditor(c, edit) {
    loadProperties(c.event);
    const count = c.count || { op: "gte", value: 1 };
    const setCount = (op, value, structural) => edit((x) => { x.count = { op, value }; }, structural);
    const whereList = el("ul", { class: "list-unstyled sb-where-list mb-0" },
      (c.where || []).map((w, i) => propertyRow(c, w, i, edit)));
    return [
      select("Performed or not", [["performed", "performed"], ["not_performed", "did not perform"]], c.op,
        (e) => edit((x) => { x.op = e.target.value; }, true), { "data-part": "op" }),
      input("Event name", c.event, (e) => edit((x) => { x.event = e.target.value; }),
        { list: "sb-event-names", placeholder: "event name, e.g. login", "data-part": "event",
          onchange: (e) => {
            loadProperties(c.event);
            e.target.closest(".sb-row").querySelectorAll("[data-part$='.property']")
              .forEach((x) => x.setAttribute("list", `sb-props-${cssId(c.event)}`));
          } }),
      el("span", { class: "sb-count-editor", "data-part": "count" },
        select("How many times", COUNT_OPS, count.op, (e) => setCount(e.target.value, count.value, true)),
        input("Number of times", count.value, (e) => setCount(count.op, intOrNull(e.target.value), false),
          { type: "number", min: 0, step: 1, class: "form-control form-control-sm sb-num", "data-part": "count.value" }),
        el("span", { class: "sb-word", text: "times" })),
      durationEditor("Time window", c.within, (v, structural) => edit((x) => {
        if (v === undefined) delete x.within; else x.within = v;
      }, structural), true),
      whereList,
      el("button", { type: "button", class: "btn btn-sm btn-link p-0", text: "+ Property filter",
        onclick: () => edit((x) => { (x.where = x.where || []).push({ property: "", op: "eq", value: null }); }, true) }),
    ];
  }

  function leafEditor(c, edit) {
    const typeSelect = select("Condition type", TYPES, c.type, (e) => edit((x) => {
      Object.keys(x).forEach((k) => delete x[k]);
      Object.assign(x, DEFAULTS[e.target.value]());
    }, true), { "data-part": "type" });
    const optionalId = (key, aria) => input(aria, c[key], (e) => edit((x) => {
      const v = intOrNull(e.target.value);
      if (v === null) delete x[key]; else x[key] = v;
    }), { type: "number", min: 1, class: "form-control form-control-sm sb-num", placeholder: "any", "data-part": key });
    switch (c.type) {
      case "field": return [typeSelect, ...fieldEditor(c, edit)];
      case "event": return [typeSelect, ...eventEditor(c, edit)];
      case "email": return [typeSelect,
        select("Email activity", EMAIL_OPS, c.op, (e) => edit((x) => { x.op = e.target.value; }, true), { "data-part": "op" }),
        durationEditor("Time window", c.within, (v, s) => edit((x) => { if (v === undefined) delete x.within; else x.within = v; }, s), true),
        el("span", { class: "sb-pair" }, el("span", { class: "sb-word", text: "template id" }), optionalId("template", "Template id (optional)")),
        el("span", { class: "sb-pair" }, el("span", { class: "sb-word", text: "flow id" }), optionalId("flow", "Flow id (optional)"))];
      case "segment": return [typeSelect,
        select("In or not in", [["in", "is in"], ["not_in", "is not in"]], c.op, (e) => edit((x) => { x.op = e.target.value; }, true), { "data-part": "op" }),
        select("Segment", [["", "Choose a segment…"], ...data.segments.map((s) => [s.id, s.name])], c.segment,
          (e) => edit((x) => { x.segment = e.target.value ? Number(e.target.value) : null; }, true), { "data-part": "segment" })];
      case "tag": return [typeSelect,
        select("Has or has not", [["has", "has tag"], ["has_not", "does not have tag"]], c.op, (e) => edit((x) => { x.op = e.target.value; }, true), { "data-part": "op" }),
        input("Tag", c.tag, (e) => edit((x) => { x.tag = e.target.value; }), { list: "sb-tags", "data-part": "tag" })];
      case "subscription": return [typeSelect,
        select("Subscribed or not", [["subscribed", "is subscribed to"], ["unsubscribed", "is unsubscribed from"]], c.op,
          (e) => edit((x) => { x.op = e.target.value; }, true), { "data-part": "op" }),
        select("Topic", [["", "Choose a topic…"], ...data.topics.map((t) => [t.key, t.name])], c.topic,
          (e) => edit((x) => { x.topic = e.target.value; }, true), { "data-part": "topic" })];
      default: return [typeSelect];
    }
  }

  // --- tree rendering -----------------------------------------------------------------------
  // A slot is where a node lives: an index in a group's list (or the root).
  let rowSerial = 0;
  const cssId = (s) => String(s || "").replace(/[^A-Za-z0-9_-]/g, "_");
  function rowActions(slot, what, negated) {
    if (!slot.list) return null;
    const b = (text, aria, onclick, disabled, key) => el("button", { type: "button", class: "btn btn-sm btn-outline-secondary",
      "aria-label": aria, title: aria, text, onclick, disabled, "data-focus": key && `${slot.path}:${key}` });
    return el("div", { class: "sb-row-actions btn-group", role: "group", "aria-label": `Actions for this ${what}` },
      b("↑", `Move ${what} up`, () => move(slot, -1), slot.index === 0, "moveup"),
      b("↓", `Move ${what} down`, () => move(slot, 1), slot.index === slot.list.length - 1, "movedown"),
      b(negated ? "Undo NOT" : "NOT", negated ? `Remove NOT from this ${what}` : `Negate this ${what} (NOT)`, () => negate(slot), false, "negate"),
      b("✕", `Remove ${what}`, () => change(() => slot.list.splice(slot.index, 1), `add:${slot.parentPath}`)));
  }
  function move(slot, delta) {
    const j = slot.index + delta;
    change(() => { const [n] = slot.list.splice(slot.index, 1); slot.list.splice(j, 0, n); },
      `${slot.parentPath}[${j}]:move${delta < 0 ? "up" : "down"}`);
  }
  function negate(slot) {
    const node = slot.list[slot.index];
    change(() => { slot.list[slot.index] = "not" in node ? node.not : { not: node }; }, `${slot.path}:negate`);
  }

  function renderNode(node, slot, path, negations) {
    if (node && typeof node === "object" && "not" in node && Object.keys(node).length === 1) {
      return renderNode(node.not, slot, `${path}.not`, [...negations, path]);
    }
    if (node && typeof node === "object" && (Array.isArray(node.all) || Array.isArray(node.any))) {
      return renderGroup(node, slot, path, negations);
    }
    return renderLeaf(node, slot, path, negations);
  }
  const notBadges = (negations) => negations.map(() => el("span", { class: "badge text-bg-danger sb-not", text: "NOT" }));

  function renderGroup(group, slot, path, negations) {
    const key = Array.isArray(group.all) ? "all" : "any";
    const listPath = `${path}.${key}`;
    const depth = (path.match(/\.(all|any)\[/g) || []).length;
    const box = el("fieldset", { class: `sb-group sb-depth-${depth % 3}`, "data-paths": [path, ...negations].join(" ") });
    const head = el("legend", { class: "sb-group-head" }, notBadges(negations),
      el("span", { class: "sb-word", text: negations.length ? "it is not true that contacts match" : "Contacts match" }),
      select("Match all or any", [["all", "ALL"], ["any", "ANY"]], key, (e) => change(() => {
        group[e.target.value] = group[key]; delete group[key];
      }, `${path}:kind`), { "data-focus": `${path}:kind` }),
      el("span", { class: "sb-word", text: "of these conditions" }), rowActions(slot, "group", negations.length > 0));
    const children = el("ol", { class: "sb-children list-unstyled" }, group[key].map((child, i) =>
      el("li", {}, renderNode(child, { list: group[key], index: i, path: `${listPath}[${i}]`, parentPath: listPath }, `${listPath}[${i}]`, []))));
    const add = el("div", { class: "sb-add d-flex flex-wrap gap-2" },
      el("button", { type: "button", class: "btn btn-sm btn-outline-primary", "data-focus": `add:${listPath}`,
        text: "+ Condition", onclick: () => change(() => group[key].push(DEFAULTS.field()), `${listPath}[${group[key].length}]:type`) }),
      el("button", { type: "button", class: "btn btn-sm btn-outline-primary",
        text: "+ Group", onclick: () => change(() => group[key].push({ [key === "all" ? "any" : "all"]: [DEFAULTS.field()] }),
          `${listPath}[${group[key].length}]:kind`) }));
    box.append(head, el("div", { class: "sb-issue", hidden: true }), children, add);
    return box;
  }

  function renderLeaf(c, slot, path, negations) {
    const id = `sb-row-${++rowSerial}`;
    const row = el("div", { class: "sb-row", id, tabindex: -1, "data-paths": [path, ...negations].join(" ") });
    if (!c || typeof c !== "object" || !DEFAULTS[c.type]) {
      row.append(el("p", { class: "sb-sentence", text: `Unrecognised condition: ${JSON.stringify(c)}` }), rowActions(slot, "condition", negations.length > 0));
      return row;
    }
    const sentence = el("p", { class: "sb-sentence" }, notBadges(negations), el("span", { text: leafWords(c) }));
    const edit = (mutate, structural) => {
      mutate(c);
      if (structural) change(null, document.activeElement && document.activeElement.dataset.focus);
      else { sentence.lastChild.textContent = leafWords(c); touched(); }
    };
    const controls = el("div", { class: "sb-controls" }, leafEditor(c, edit));
    controls.querySelectorAll("input, select, button").forEach((x, i) => { x.dataset.focus = `${path}:${x.dataset.part || i}`; });
    row.append(sentence, controls, rowActions(slot, "condition", negations.length > 0), el("div", { class: "sb-issue", hidden: true }));
    return row;
  }

  function render(focusKey) {
    rowSerial = 0;
    const tree = renderNode(root, { path: "conditions" }, "conditions", []);
    host.replaceChildren(tree);
    showIssues();
    const find = (key) => key && host.querySelector(`[data-focus="${CSS.escape(key)}"]`);
    let target = find(focusKey);
    if (target && target.disabled) target = find(focusKey.replace(/move(up|down)$/, (m, d) => (d === "up" ? "movedown" : "moveup")));
    if (target) target.focus();
  }
  function change(mutate, focusKey) {
    if (mutate) mutate();
    render(focusKey);
    touched();
  }

  // --- issues at their rows -------------------------------------------------------------------
  function showIssues() {
    const owners = [...host.querySelectorAll("[data-paths]")].flatMap((node) =>
      node.dataset.paths.split(" ").map((p) => [pathOf(p), node]));
    host.querySelectorAll(".is-invalid").forEach((x) => x.classList.remove("is-invalid"));
    const byNode = new Map();
    for (const issue of issues) {
      let best = null;
      for (const [p, node] of owners) {
        const hit = issue.path === p || issue.path.startsWith(p + ".") || issue.path.startsWith(p + "[");
        if (hit && (!best || p.length > best[0].length)) best = [p, node];
      }
      const [ownerPath, node] = best || ["conditions", host.firstChild];
      if (!node) continue;
      if (!byNode.has(node)) byNode.set(node, []);
      byNode.get(node).push(issue.message);
      const rest = issue.path.slice(ownerPath.length).replace(/^\./, "");
      node.querySelectorAll(":scope > .sb-controls [data-part]").forEach((x) => {
        const part = x.dataset.part;
        if (rest && (rest === part || rest.startsWith(part + ".") || rest.startsWith(part + "["))) x.classList.add("is-invalid");
      });
    }
    host.querySelectorAll("[data-paths]").forEach((node) => {
      const box = node.querySelector(":scope > .sb-issue");
      const messages = byNode.get(node);
      node.classList.toggle("sb-invalid", Boolean(messages));
      if (box) { box.hidden = !messages; box.textContent = messages ? messages.join(" ") : ""; }
    });
    const link = $("sb-issues");
    link.hidden = !issues.length;
    link.textContent = `${issues.length} issue${issues.length === 1 ? "" : "s"} to fix before saving`;
    $("sb-save").disabled = issues.length > 0;
  }
  $("sb-issues").addEventListener("click", (e) => {
    e.preventDefault();
    const first = host.querySelector(".sb-invalid");
    if (!first) return;
    const target = first.querySelector(":scope > .sb-controls .is-invalid")
      || first.querySelector(":scope > .sb-controls select, :scope > legend select") || first;
    target.focus();
    first.scrollIntoView({ block: "center" });
  });

  // --- live preview ---------------------------------------------------------------------------
  let sequence = 0, timer = null, controller = null;
  const status = (state, text) => {
    const s = $("sb-status");
    s.dataset.state = state;
    s.textContent = $("sb-mobile-status").textContent = text;
  };
  function touched() {
    form.querySelector("[name=conditions]").value = JSON.stringify(serialize());
    const impact = $("sb-impact");
    if (impact) { impact.remove(); $("sb-actions").hidden = false; }
    clearTimeout(timer);
    status("counting", "counting…");
    timer = setTimeout(preview, 300);
  }
  async function preview() {
    const mine = ++sequence;
    if (controller) controller.abort();
    controller = new AbortController();
    let body;
    try {
      const response = await fetch(data.urls.preview, {
        method: "POST", signal: controller.signal, credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "application/json" },
        body: JSON.stringify({ conditions: serialize(), segment: data.segment }),
      });
      body = await response.json();
    } catch (error) {
      if (error.name !== "AbortError" && mine === sequence) status("error", "Could not count (are you still logged in?). Edit to retry.");
      return;
    }
    if (mine !== sequence) return; // a newer preview was asked for meanwhile
    issues = body.errors || [];
    showIssues();
    $("sb-count").textContent = body.count === null ? "—" : body.count.toLocaleString("en");
    $("sb-count-unit").textContent = body.count === null ? "" : `contact${body.count === 1 ? "" : "s"}`;
    $("sb-mobile-count").textContent = `${$("sb-count").textContent} ${$("sb-count-unit").textContent}`;
    status(body.counted, {
      all: "Counted now, not saved.",
      part: `Counted without the ${issues.length} flagged issue${issues.length === 1 ? "" : "s"}.`,
      none: "Nothing valid to count yet: complete a condition.",
    }[body.counted] || "");
    $("sb-summary").textContent = body.summary || treeWords(serialize());
    $("sb-sample").replaceChildren(...(body.sample || []).map((s) => el("li", {},
      el("a", { href: s.url, text: s.email || `Contact #${s.id}` }), s.name ? ` · ${s.name}` : "")));
  }

  // --- suggestions ----------------------------------------------------------------------------
  const propertyCache = {};
  const propertyLoading = {};
  function loadProperties(name) {
    if (!name || propertyCache[name] || propertyLoading[name]) return;
    propertyLoading[name] = fetch(`${data.urls.properties}?event=${encodeURIComponent(name)}`, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : { properties: [] }))
      .then((body) => {
        propertyCache[name] = body.properties || [];
        const id = `sb-props-${cssId(name)}`;
        if (!$(id)) document.body.append(el("datalist", { id }, propertyCache[name].map((p) => el("option", { value: p.key, label: p.type }))));
      }).catch(() => { propertyLoading[name] = null; });
  }
  fetch(data.urls.events, { credentials: "same-origin" }).then((r) => r.json()).then((body) => {
    $("sb-event-names").replaceChildren(...body.names.map((n) => el("option", { value: n })));
  }).catch(() => {});

  host.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && e.target.tagName === "INPUT") e.preventDefault(); // no accidental save
  });

  // --- start ------------------------------------------------------------------------------------
  const keep = $("sb-keep-editing");
  if (keep) keep.addEventListener("click", () => { $("sb-impact").remove(); $("sb-actions").hidden = false; $("sb-save").focus(); });
  if ($("sb-impact")) $("sb-impact").focus();
  render();
  form.querySelector("[name=conditions]").value = JSON.stringify(serialize());
  clearTimeout(timer);
  status("counting", "counting…");
  preview();
})();

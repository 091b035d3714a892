/* Shared helpers for the workbench pages: API calls, DOM building, badges and flags in plain words. */
"use strict";

const LZ = (() => {
  function detailText(data) {
    if (!data) return "";
    const d = data.detail;
    if (typeof d === "string") return d;
    if (Array.isArray(d)) return d.map((x) => (x.loc ? x.loc.slice(-1)[0] + "：" : "") + x.msg).join("；");
    return "";
  }

  async function api(path, opts = {}) {
    const init = { method: opts.method || (opts.json !== undefined ? "POST" : "GET"), headers: {}, credentials: "same-origin" };
    if (opts.json !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(opts.json);
    }
    if (opts.signal) init.signal = opts.signal;
    const res = await fetch(path, init);
    const type = res.headers.get("content-type") || "";
    const data = type.includes("application/json") ? await res.json() : null;
    if (!res.ok) {
      const err = new Error(detailText(data) || `请求失败（${res.status}）`);
      err.status = res.status;
      err.data = data;
      throw err;
    }
    return data;
  }

  /* el("div", {class: "x", onclick: fn}, "text", child, [more]) — text is always set as text, never as HTML. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
      else if (k === "class") node.className = v;
      else if (k === "dataset") Object.assign(node.dataset, v);
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function toast(message, kind = "info", ms = 3500) {
    const box = document.getElementById("toast");
    if (!box) return;
    const t = el("div", { class: "toast " + (kind === "error" ? "err" : kind === "ok" ? "ok" : "") }, message);
    box.append(t);
    setTimeout(() => t.remove(), ms);
  }

  function debounce(fn, ms) {
    let timer = null;
    const wrapped = (...args) => {
      clearTimeout(timer);
      timer = setTimeout(() => fn(...args), ms);
    };
    wrapped.cancel = () => clearTimeout(timer);
    return wrapped;
  }

  const pct = (x) => Math.round((x || 0) * 100) + "%";

  const SHORT = { "基本履职事项": "基本", "配合履职事项": "配合", "上级部门收回事项": "收回" };
  function listTypeBadge(listType) {
    const short = SHORT[listType] || listType;
    return el("span", { class: "badge lt-" + short, title: listType }, short);
  }

  /* Badges an entry carries whatever the query: list type, 兜底, 僵尸. */
  function entryBadges(e) {
    const out = [listTypeBadge(e.list_type)];
    if (e.bottom_line) out.push(el("span", { class: "badge b-bottom", title: "14类53项兜底事项，须由乡镇（街道）承担" }, "兜底"));
    if (e.zombie) out.push(el("span", { class: "badge b-zombie", title: "已因长期未发生收回" }, "僵尸"));
    return out;
  }

  /* The match's flags in the words a township clerk uses. */
  function flagBadges(m) {
    const f = m.flags || {};
    const out = [];
    if (f.out_of_list) out.push(el("span", { class: "badge b-out", title: "未找到对应履职事项，需按职责准入程序办理" }, "清单之外"));
    if (f.reclaimed) out.push(el("span", { class: "badge b-handover", title: "上级部门收回事项" }, "应交回" + (m.handover_department || "县级主管部门")));
    if (f.zombie) out.push(el("span", { class: "badge b-zombie", title: "该事项已因长期未发生收回，请核实" }, "僵尸事项"));
    if (f.bottom_line) out.push(el("span", { class: "badge b-bottom", title: "须由乡镇（街道）承担" }, "兜底事项"));
    if (f.needs_review) out.push(el("span", { class: "badge b-review", title: "置信度低或与其他类型事项接近" }, "需人工复核"));
    return out;
  }

  function confidence(x) {
    const level = x >= 0.7 ? "" : x >= 0.4 ? "mid" : "low";
    return el("span", { class: "conf" }, el("span", { class: "conf-bar " + level }, el("i", { style: `width:${pct(x)}` })), pct(x));
  }

  /* One entry on one line: [id] name + badges + office. */
  function entryLine(e, extra) {
    return [el("span", { class: "entry-id" }, `[${e.id}]`), el("span", {}, e.name), ...entryBadges(e),
      el("span", { class: "muted" }, e.office || ""), extra || null];
  }

  /* Raw upload with progress: the body is the file itself, the name goes in the query string. */
  function upload(url, file, params, onProgress) {
    const query = new URLSearchParams({ filename: file.name });
    for (const [k, v] of Object.entries(params || {})) if (v !== "" && v !== null && v !== undefined) query.set(k, v);
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url + "?" + query.toString());
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      xhr.upload.onprogress = (ev) => { if (ev.lengthComputable && onProgress) onProgress(ev.loaded / ev.total); };
      xhr.onload = () => {
        let data = null;
        try { data = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
        if (xhr.status >= 200 && xhr.status < 300) resolve(data);
        else reject(Object.assign(new Error(detailText(data) || `上传失败（${xhr.status}）`), { status: xhr.status, data }));
      };
      xhr.onerror = () => reject(new Error("网络错误，上传中断"));
      xhr.send(file);
    });
  }

  function duration(s) {
    if (s === null || s === undefined) return "—";
    s = Math.max(0, Math.round(s));
    if (s < 60) return s + " 秒";
    if (s < 3600) return Math.floor(s / 60) + " 分 " + (s % 60) + " 秒";
    return Math.floor(s / 3600) + " 小时 " + Math.floor((s % 3600) / 60) + " 分";
  }

  function time(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (isNaN(d)) return iso;
    const two = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
  }

  const user = () => document.body.dataset.user || "";
  const role = () => document.body.dataset.role || "";
  const RANK = { drafter: 1, reviewer: 2, admin: 3 };
  const hasRole = (r) => (RANK[role()] || 0) >= RANK[r];

  async function catalogOptions(select, { includeCurrent = true } = {}) {
    const data = await api("/api/catalogs");
    select.replaceChildren();
    if (includeCurrent) select.append(el("option", { value: "" }, "当前清单"));
    for (const c of data.catalogs.slice().reverse()) {
      const label = `${c.name}（${c.entries} 项，${c.version.slice(0, 8)}${c.default ? "，当前" : ""}）`;
      select.append(el("option", { value: c.version }, label));
    }
    return data;
  }

  /* Custom file pickers show the chosen file's name next to the Chinese button. */
  function wireFilePickers() {
    for (const input of document.querySelectorAll(".file-pick input[type=file]")) {
      const name = input.parentElement.querySelector(".file-name");
      const show = () => { name.textContent = input.files.length ? input.files[0].name : "未选择文件"; };
      input.addEventListener("change", show);
      input.form && input.form.addEventListener("reset", () => setTimeout(show, 0));
    }
  }

  const fileUrl = (job, f) => `/api/jobs/${job.id}/files/${encodeURIComponent(f.name)}`;

  document.addEventListener("DOMContentLoaded", () => {
    wireFilePickers();
    const out = document.getElementById("logout");
    if (out) out.addEventListener("click", async () => {
      await api("/api/logout", { method: "POST" }).catch(() => null);
      location.href = "/";
    });
  });

  return { api, el, toast, debounce, pct, listTypeBadge, entryBadges, flagBadges, confidence, entryLine, upload,
    duration, time, user, role, hasRole, catalogOptions, detailText, fileUrl };
})();

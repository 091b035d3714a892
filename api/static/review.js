/* 审核: the queue one item at a time, driven from the keyboard.
   A accept · 1–3 pick an alternative · / search any entry · Enter confirm correction · R reject · J/K next/previous. */
"use strict";
(() => {
  const { api, el, toast, debounce, entryBadges, flagBadges, confidence, entryLine } = LZ;
  const $ = (id) => document.getElementById(id);
  const card = $("review-card");
  const empty = $("review-empty");
  const searchBox = $("review-search");
  const searchList = $("review-search-results");
  const comment = $("review-comment");
  const TIER_CLASS = { "清单之外": 0, "上级部门收回": 1, "置信度低": 2, "一般": 3 };

  let items = [];
  let index = 0;
  let picked = null; // the entry chosen as a correction
  let searchHits = [];
  let searchCursor = -1;
  let busy = false;

  function renderCounts(c) {
    const tiers = Object.entries(c.pending_by_tier).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(" · ");
    $("review-counts").replaceChildren(
      el("span", { id: "count-pending" }, el("b", {}, c.pending), "条待审", tiers ? el("small", { class: "muted" }, `（${tiers}）`) : null),
      el("span", { id: "count-today" }, "今日已审 ", el("b", {}, c.decided_today)),
      el("span", { id: "count-mine" }, "我已审 ", el("b", {}, c.decided_by_me)),
      el("span", { id: "count-total" }, "累计 ", el("b", {}, c.decided), el("small", { class: "muted" },
        `（接受 ${c.by_decision["接受"]} · 更正 ${c.by_decision["更正"]} · 驳回 ${c.by_decision["驳回"]}）`)));
  }

  function suggestionBlock(r) {
    const m = r.match;
    const best = m.best;
    if (!best) return el("div", { class: "match out" }, "没有建议事项");
    const out = m.flags.out_of_list;
    return el("div", { class: "match" + (out ? " out" : ""), id: "review-suggested", dataset: { entryId: out ? "" : best.id } },
      el("div", { class: "match-head" },
        out ? [el("span", { class: "match-title" }, "清单之外"), el("span", { class: "muted" }, `（最接近：[${best.id}] ${best.name}）`)]
          : [el("span", { class: "match-title" }, best.name), el("span", { class: "entry-id" }, `[${best.id}]`)],
        ...entryBadges(best)),
      el("dl", { class: "facts" },
        el("dt", {}, "承办机构"), el("dd", {}, best.office || "—"),
        el("dt", {}, "主责部门"), el("dd", {}, best.department || "—"),
        el("dt", {}, "置信度"), el("dd", {}, confidence(m.confidence)),
        el("dt", {}, "类别"), el("dd", {}, best.category || "—")),
      el("div", { class: "flags" }, flagBadges(m)),
      m.why && m.why.length ? el("p", { class: "why" }, "依据：" + m.why.join("、")) : null);
  }

  function alternatives(r) {
    const m = r.match;
    const out = m.flags.out_of_list;
    // For an out-of-list answer the nearest entry is itself a sensible correction, so it is listed first.
    return (out ? m.candidates : m.candidates.slice(1)).slice(0, 3);
  }

  function render() {
    const r = items[index];
    card.hidden = !r;
    empty.hidden = !!r;
    if (!r) return;
    picked = null;
    $("review-position").textContent = `第 ${index + 1} / ${items.length} 条`;
    const tier = $("review-tier");
    tier.className = "badge b-tier" + (TIER_CLASS[r.tier_label] ?? 3);
    tier.textContent = r.tier_label;
    $("review-submitter").textContent = `${r.submitted_by} 送审于 ${LZ.time(r.submitted_at)} · 清单 ${r.catalog_version.slice(0, 8)}`;
    $("review-text").textContent = r.text;
    $("review-note").hidden = !r.note;
    $("review-note").textContent = r.note ? "送审说明：" + r.note : "";
    $("review-suggestion").replaceChildren(suggestionBlock(r));
    $("review-alternatives").replaceChildren(...alternatives(r).map((c, i) =>
      el("li", { dataset: { entryId: c.id }, onclick: () => pick(c) }, el("span", { class: "num" }, String(i + 1)),
        entryLine(c, el("span", { class: "score muted" }, "得分 " + c.score.toFixed(2))))));
    searchBox.value = "";
    searchList.replaceChildren();
    comment.value = "";
    showPick();
  }

  function showPick() {
    const choice = $("review-choice");
    $("btn-correct").disabled = !picked;
    for (const li of document.querySelectorAll("#review-alternatives li, #review-search-results li")) {
      li.classList.toggle("picked", !!picked && li.dataset.entryId === picked.id);
    }
    choice.hidden = !picked;
    if (picked) choice.replaceChildren("更正为：", ...entryLine(picked), el("span", { class: "muted" }, " — 按 Enter 确认"));
  }

  function pick(entry) {
    picked = entry;
    showPick();
  }

  async function decide(decision) {
    const r = items[index];
    if (!r || busy) return;
    if (decision === "correct" && !picked) {
      toast("请先用数字键或搜索选定要更正为的事项", "error");
      return;
    }
    busy = true;
    try {
      const data = await api(`/api/reviews/${r.id}/decision`, {
        json: { decision, entry_id: decision === "correct" ? picked.id : null, comment: comment.value.trim() },
      });
      const label = { accept: "已接受", correct: `已更正为 [${data.review.final_id}] ${data.review.final_name}`, reject: "已驳回" }[decision];
      toast(`#${r.id} ${label}`, "ok", 2000);
      renderCounts(data.counts);
      items.splice(index, 1);
    } catch (err) {
      toast(err.message, "error");
      if (err.status === 409) items.splice(index, 1);
      else { busy = false; return; }
    }
    busy = false;
    if (index >= items.length) index = Math.max(0, items.length - 1);
    if (!items.length) await load();
    else render();
  }

  function move(step) {
    if (!items.length) return;
    index = Math.min(items.length - 1, Math.max(0, index + step));
    render();
  }

  const search = debounce(async () => {
    const q = searchBox.value.trim();
    const r = items[index];
    if (!q || !r) { searchList.replaceChildren(); searchHits = []; return; }
    try {
      const data = await api(`/api/catalogs/${r.catalog_version}/search?q=${encodeURIComponent(q)}&limit=10`);
      searchHits = data.entries;
      searchCursor = searchHits.length ? 0 : -1;
      searchList.replaceChildren(...searchHits.map((e, i) =>
        el("li", { dataset: { entryId: e.id }, class: i === searchCursor ? "cursor" : "", onclick: () => { pick(e); searchBox.blur(); } }, entryLine(e))));
      markCursor();
      showPick();
    } catch (err) { toast(err.message, "error"); }
  }, 250);

  function markCursor() {
    [...searchList.children].forEach((li, i) => { li.style.outline = i === searchCursor ? "2px solid #b9d3f3" : ""; });
  }

  searchBox.addEventListener("input", search);
  searchBox.addEventListener("keydown", (ev) => {
    if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      ev.preventDefault();
      if (!searchHits.length) return;
      searchCursor = (searchCursor + (ev.key === "ArrowDown" ? 1 : -1) + searchHits.length) % searchHits.length;
      markCursor();
    } else if (ev.key === "Enter" && !ev.isComposing) {
      ev.preventDefault();
      if (searchCursor >= 0 && searchHits[searchCursor]) { pick(searchHits[searchCursor]); searchBox.blur(); }
    } else if (ev.key === "Escape") searchBox.blur();
  });
  comment.addEventListener("keydown", (ev) => { if (ev.key === "Escape") comment.blur(); });

  document.addEventListener("keydown", (ev) => {
    const t = ev.target;
    if (t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement) return;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (t instanceof HTMLButtonElement && ev.key === "Enter") return; // the button's own click handles it
    const r = items[index];
    const key = ev.key.toLowerCase();
    if (key === "j") move(1);
    else if (key === "k") move(-1);
    else if (!r) return;
    else if (key === "a") decide("accept");
    else if (key === "r") decide("reject");
    else if (key === "enter") { if (picked) decide("correct"); }
    else if (key === "/") { ev.preventDefault(); searchBox.focus(); searchBox.select(); }
    else if (key === "c") { ev.preventDefault(); comment.focus(); }
    else if (["1", "2", "3"].includes(key)) {
      const alt = alternatives(r)[Number(key) - 1];
      if (alt) pick(alt);
    } else return;
  });

  $("btn-accept").addEventListener("click", () => decide("accept"));
  $("btn-correct").addEventListener("click", () => decide("correct"));
  $("btn-reject").addEventListener("click", () => decide("reject"));
  $("btn-prev").addEventListener("click", () => move(-1));
  $("btn-next").addEventListener("click", () => move(1));

  async function load() {
    try {
      const data = await api("/api/reviews/queue?limit=200");
      items = data.items;
      index = Math.min(index, Math.max(0, items.length - 1));
      renderCounts(data.counts);
      render();
    } catch (err) { toast(err.message, "error"); }
  }
  load();
})();

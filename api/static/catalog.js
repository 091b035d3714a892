/* 清单: browse and search a version's entries, compare two versions, import a new list (admin). */
"use strict";
(() => {
  const { api, el, toast, debounce, listTypeBadge } = LZ;
  const $ = (id) => document.getElementById(id);
  const versionSelect = $("catalog-version");
  const searchBox = $("catalog-search");
  let listType = "";

  async function loadVersions() {
    const data = await LZ.catalogOptions(versionSelect, { includeCurrent: false });
    versionSelect.value = data.default_version || versionSelect.value;
    for (const id of ["diff-a", "diff-b"]) await LZ.catalogOptions($(id), { includeCurrent: false });
    const versions = data.catalogs.map((c) => c.version);
    if (versions.length > 1) { $("diff-a").value = versions[versions.length - 2]; $("diff-b").value = versions[versions.length - 1]; }
    return data;
  }

  async function loadEntries() {
    const version = versionSelect.value || "current";
    const query = new URLSearchParams({ q: searchBox.value.trim(), list_type: listType });
    try {
      const data = await api(`/api/catalogs/${version}/entries?${query}`);
      $("catalog-counts").replaceChildren(
        el("div", { class: "stat" }, el("b", {}, data.total), el("span", {}, "事项总数")),
        ...Object.entries(data.counts).map(([k, n]) => el("div", { class: "stat" }, el("b", {}, n), el("span", {}, k))));
      $("catalog-shown").textContent = `显示 ${data.entries.length} 项`;
      $("catalog-entries").tBodies[0].replaceChildren(...data.entries.map((e) => el("tr", { dataset: { entryId: e.id } },
        el("td", {}, e.id),
        el("td", {}, listTypeBadge(e.list_type)),
        el("td", {}, e.category || "—"),
        el("td", {}, el("div", {}, e.name), e.description && e.description !== e.name ? el("div", { class: "desc" }, e.description) : null,
          e.department_duty ? el("div", { class: "desc county" }, `县级部门职责：${e.department_duty}`) : null),
        el("td", {}, e.office || "—"),
        el("td", {}, e.department || "—"),
        el("td", {}, e.bottom_line ? el("span", { class: "badge b-bottom" }, "兜底") : null,
          e.zombie ? el("span", { class: "badge b-zombie", title: e.reclaim_reason }, "僵尸") : null))));
    } catch (err) { toast(err.message, "error"); }
  }

  const side = (entries) => entries.map((e) => `[${e.id}] ${e.name}`).join("、") || "—";

  $("diff-run").addEventListener("click", async () => {
    const a = $("diff-a").value, b = $("diff-b").value;
    if (!a || !b) return;
    $("diff-result").replaceChildren(el("p", { class: "muted" }, "比对中……"));
    try {
      const d = await api(`/api/catalogs/diff?a=${a}&b=${b}`);
      const summary = Object.entries(d.counts).filter(([, n]) => n).map(([k, n]) => `${k} ${n}`).join("，");
      const rows = d.changes.map((c) => el("tr", { dataset: { kind: c.kind } },
        el("td", { class: "nowrap" }, el("span", { class: "badge b-tier" + ({ "新增": 2, "删除": 0, "合并": 1, "拆分": 1 }[c.kind] ?? 3) }, c.kind)),
        el("td", {}, side(c.old)), el("td", {}, side(c.new)),
        el("td", {}, c.fields.join("、") || "—"),
        el("td", { class: "nowrap" }, c.similarity ? c.similarity.toFixed(2) : "—")));
      $("diff-result").replaceChildren(
        el("p", {}, `「${d.a.name}」（${d.a.entries} 项）→「${d.b.name}」（${d.b.entries} 项）：${summary || "完全相同"}。`),
        el("p", { class: "muted" }, "比对方法：" + d.method),
        rows.length ? el("table", { class: "table", id: "diff-table" },
          el("thead", {}, el("tr", {}, el("th", {}, "变化"), el("th", {}, "旧版本事项"), el("th", {}, "新版本事项"),
            el("th", {}, "改动的字段"), el("th", {}, "相似度"))),
          el("tbody", {}, rows)) : null);
    } catch (err) { toast(err.message, "error"); }
  });

  for (const button of $("catalog-types").querySelectorAll("button")) {
    button.addEventListener("click", () => {
      listType = button.dataset.type;
      for (const b of $("catalog-types").querySelectorAll("button")) b.classList.toggle("on", b === button);
      loadEntries();
    });
  }
  searchBox.addEventListener("input", debounce(loadEntries, 250));
  versionSelect.addEventListener("change", loadEntries);

  const importForm = $("import-form");
  if (importForm) {
    importForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const file = $("import-file").files[0];
      if (!file) return;
      const problems = $("import-problems");
      problems.hidden = true;
      $("import-status").textContent = "导入中……";
      try {
        const data = await LZ.upload("/api/catalogs", file, { name: importForm.elements.name.value, list_type: importForm.elements.list_type.value });
        $("import-status").textContent = `已导入「${data.name}」：${data.entries} 项，版本 ${data.version}`;
        toast("清单已导入", "ok");
        await loadVersions();
        versionSelect.value = data.version;
        loadEntries();
      } catch (err) {
        $("import-status").textContent = "";
        problems.textContent = err.data && err.data.problems ? err.message : err.message;
        problems.hidden = false;
      }
    });
  }

  loadVersions().then(loadEntries).catch((err) => toast(err.message, "error"));
})();

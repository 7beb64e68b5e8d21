// imx clinician portal pages: search, timeline, retrieve with progress, admin views.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  let me = null, patients = [], purpose = "TREATMENT";

  async function api(path, body) {
    const init = body === undefined ? {} : {
      method: "POST", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", "X-Imx-Portal": "1" },
    };
    const r = await fetch(`/portal/api${path}`, init);
    if (r.status === 401) { location.href = "/portal/login"; throw new Error("signed out"); }
    const data = await r.json();
    if (!r.ok) throw new Error(data.detail || `HTTP ${r.status}`);
    return data;
  }
  const say = (text) => { $("status").textContent = text; };
  const el = (name, props = {}, ...kids) => {
    const e = Object.assign(document.createElement(name), props);
    e.append(...kids.filter((k) => k !== null && k !== undefined));
    return e;
  };
  const day = (iso) => (iso ? iso.slice(0, 10) : "—");

  function table(caption, headers, rows) {
    const t = el("table", {}, el("caption", { className: "muted", textContent: caption }));
    const h = t.createTHead().insertRow();
    for (const name of headers) h.append(el("th", { scope: "col", textContent: name }));
    const b = t.createTBody();
    for (const row of rows) {
      const tr = b.insertRow();
      for (const cell of row) {
        const td = tr.insertCell();
        if (cell instanceof Node) td.append(cell); else td.textContent = cell ?? "";
      }
    }
    return t;
  }

  function showView(name) {
    for (const s of document.querySelectorAll("main > section")) s.hidden = s.id !== `view-${name}`;
    const loaders = { retrievals: loadRetrievals, audit: loadAudit, directory: loadDirectory, health: loadHealth };
    if (loaders[name]) loaders[name]().catch((e) => say(e.message));
  }

  // --- search and timeline -------------------------------------------------------------------

  async function search(ev) {
    ev.preventDefault();
    const f = new FormData(ev.target);
    purpose = f.get("purpose");
    $("patients").textContent = ""; $("timeline").textContent = "";
    say("Searching the network…");
    try {
      const out = await api("/patients/search", Object.fromEntries(f.entries()));
      patients = out.patients;
      const rows = patients.map((p, i) => [
        el("input", { type: "checkbox", checked: true, id: `pick-${i}`, ariaLabel: `Include match at ${p.organization}` }),
        p.organization, `${p.family}, ${p.given}`, day(p.birth_date), p.gender,
        `${p.patient_id}`, `${p.score}${p.from_cache ? " (cached)" : ""}`]);
      $("patients").append(table(`${patients.length} match(es) in ${out.searched} communities`,
        ["Use", "Organisation", "Name", "Birth date", "Sex", "Patient ID", "Match"], rows));
      for (const f of out.failures) $("patients").append(el("p", { className: "error", textContent: `${f.organization}: ${f.error}` }));
      if (patients.length) {
        const b = el("button", { type: "button", id: "timeline-button", textContent: "Show timeline" });
        b.addEventListener("click", () => timeline().catch((e) => say(`Timeline failed: ${e.message}`)));
        $("patients").append(b);
        say(`${patients.length} match(es) found.`);
        b.focus();
      } else say("No match in any community.");
    } catch (e) { say(`Search failed: ${e.message}`); }
  }

  async function timeline() {
    const chosen = patients.filter((_, i) => $(`pick-${i}`).checked);
    say("Asking each community for studies and reports…");
    const out = await api("/timeline", { patients: chosen, purpose });
    const rows = out.entries.map((d) => [day(d.date), d.kind, d.title || d.mime_type, d.organization,
      d.kind === "study" ? actions(d) : ""]);
    $("timeline").textContent = "";
    $("timeline").append(el("h2", { textContent: "Timeline" }),
      table(`${out.entries.length} item(s), newest first`, ["Date", "Kind", "Title", "Source organisation", "Actions"], rows));
    for (const f of out.failures) $("timeline").append(el("p", { className: "error", textContent: `${f.organization}: ${f.error}` }));
    say(`Timeline: ${out.entries.length} item(s).`);
  }

  function actions(d) {
    const box = el("div", { className: "row" });
    const uid = d.study_instance_uids[0];
    const view = el("button", { type: "button", textContent: "View", disabled: !d.local });
    view.setAttribute("aria-label", `View study ${d.title} from ${d.organization}`);
    view.addEventListener("click", () => openViewer(uid, d.title));
    const dest = el("select", { ariaLabel: "Retrieve destination" },
      el("option", { value: "", textContent: "this node" }),
      ...me.destinations.map((ae) => el("option", { value: ae, textContent: `PACS ${ae}` })));
    const get = el("button", { type: "button", textContent: d.local ? "Retrieved" : "Retrieve to my PACS" });
    get.setAttribute("aria-label", `Retrieve to my PACS: study ${d.title} from ${d.organization}`);
    const bar = el("progress", { max: 1, value: 0, hidden: true });
    bar.setAttribute("aria-label", "Retrieval progress");
    const note = el("span", { className: "muted" });
    get.addEventListener("click", async () => {
      get.disabled = true; bar.hidden = false;
      try {
        let job = await api("/retrievals", { home_community_id: d.home_community_id,
          repository_unique_id: d.repository_unique_id, document_unique_id: d.document_unique_id,
          forward_to: dest.value, purpose });
        while (job.status === "queued" || job.status === "running") {
          bar.max = Math.max(job.total, 1); bar.value = job.received + job.present;
          note.textContent = `${job.received + job.present} / ${job.total || "?"} images`;
          await new Promise((r) => setTimeout(r, 300));
          job = await api(`/retrievals/${job.id}`);
        }
        bar.max = Math.max(job.total, 1); bar.value = job.received + job.present;
        note.textContent = `${job.status}: ${job.received + job.present} / ${job.total} images` +
          (job.error ? ` (${job.error})` : "");
        say(`Retrieval ${job.status}.`);
        if (job.status === "done") { view.disabled = false; get.textContent = "Retrieved"; view.focus(); }
      } catch (e) { note.textContent = e.message; }
      get.disabled = false;
    });
    box.append(view, dest, get, bar, note);
    return box;
  }

  async function openViewer(uid, title) {
    showView("viewer");
    $("viewer-title").textContent = title || "";
    try {
      await api("/viewed", { study_instance_uid: uid, purpose });
      await window.ImxViewer.open(uid, me.dicomweb);
    } catch (e) { say(`Viewer: ${e.message}`); }
  }

  // --- admin and lists ---------------------------------------------------------------------

  async function loadRetrievals() {
    const jobs = await api("/retrievals");
    $("retrieval-list").textContent = "";
    $("retrieval-list").append(table(`${jobs.length} retrieval(s) since the node started`,
      ["Status", "Study", "Images", "Error"],
      jobs.map((j) => [j.status, j.study_instance_uid, `${j.received + j.present} / ${j.total}`, j.error])));
  }

  async function loadAudit(ev) {
    if (ev) ev.preventDefault();
    const pid = $("audit-patient").value.trim();
    const rows = await api(`/audit${pid ? `?patient_id=${encodeURIComponent(pid)}` : ""}`);
    $("audit-list").textContent = "";
    $("audit-list").append(table(`${rows.length} event(s), newest first`,
      ["When", "Who", "What", "Why", "Patients", "Community", "Outcome"],
      rows.map((r) => [r.time.replace("T", " ").slice(0, 19), r.user, r.event || r.transaction,
        r.purpose, r.patients.join(", "), r.community, r.outcome])));
  }

  async function loadDirectory() {
    const orgs = await api("/directory");
    $("directory-list").textContent = "";
    $("directory-list").append(table(`${orgs.length} organisation(s)`,
      ["Name", "Home community ID", "Place", "Active", "Capabilities"],
      orgs.map((o) => [o.name, o.home_community_id, [o.city, o.state].filter(Boolean).join(", "),
        o.active ? "yes" : "no", o.capabilities.join(" ")])));
  }

  async function loadHealth() {
    const h = await api("/health");
    const body = $("health-body");
    body.textContent = "";
    body.append(table("This node", ["Setting", "Value"], [["Name", h.node], ["Version", h.version],
      ["Home community ID", h.home_community_id], ["DIMSE AE title", h.dimse_ae_title],
      ["Up for", `${h.uptime_s} s`], ["Retrievals", JSON.stringify(h.jobs)]]));
    body.append(table("Last exchange with each community", ["Organisation", "When", "Transaction", "Outcome"],
      h.peers.map((p) => [p.organization, p.time, p.transaction, p.outcome])));
  }

  async function start() {
    me = await api("/me");
    $("who").textContent = `${me.name} (${me.role})`;
    $("node-name").textContent = me.node;
    if (me.role === "admin") document.body.classList.add("is-admin");
    for (const p of me.purposes) $("purpose").append(el("option", { value: p, textContent: p.toLowerCase() }));
    $("search-form").addEventListener("submit", search);
    $("audit-form").addEventListener("submit", (e) => loadAudit(e).catch((x) => say(x.message)));
    $("close-viewer").addEventListener("click", () => { location.hash = "#search"; showView("search"); });
    window.addEventListener("hashchange", () => showView(location.hash.slice(1) || "search"));
    showView(location.hash.slice(1) || "search");
  }

  document.addEventListener("DOMContentLoaded", () => start().catch((e) => say(e.message)));
})();

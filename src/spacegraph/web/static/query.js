// The query UI: YASGUI (served from this server, no CDN) on this server's SPARQL endpoint, with the
// example questions of the project loaded from the page. A click on an example puts its query in the
// editor and runs it; /sparql?example=NAME opens with that example run.
(function () {
  "use strict";
  const root = document.getElementById("yasgui");
  if (!root || typeof Yasgui === "undefined") return;
  const endpoint = new URL(root.dataset.endpoint, window.location.href).href;
  const examples = JSON.parse(document.getElementById("example-queries").textContent);
  const byName = new Map(examples.map((e) => [e.name, e]));

  // Offline: no autocompletion from Linked Open Vocabularies (a remote service); prefixes and
  // variables complete from what YASGUI bundles and what the query holds.
  Yasgui.Yasqe.defaults.autocompleters = ["prefixes", "variables"];
  const yasgui = new Yasgui(root, {
    requestConfig: { endpoint: endpoint, method: "POST" },
    copyEndpointOnNewTab: true,
    populateFromUrl: false,
    persistenceId: null,
    endpointCatalogueOptions: { getData: () => [{ endpoint: endpoint, type: "own" }] },
    yasqe: { resizeable: true, editorHeight: "320px" },
  });

  function show(name, run) {
    const example = byName.get(name);
    if (!example) return;
    const tab = yasgui.getTab();
    tab.setEndpoint(endpoint);
    tab.setQuery(example.query);
    tab.setName(example.name);
    document.querySelectorAll("[data-example]").forEach((link) => {
      if (link.dataset.example === name) link.setAttribute("aria-current", "true");
      else link.removeAttribute("aria-current");
    });
    if (run) tab.getYasqe().query();
  }

  document.querySelectorAll("[data-example]").forEach((link) => {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      show(link.dataset.example, true);
      const url = new URL(window.location.href);
      url.searchParams.set("example", link.dataset.example);
      window.history.replaceState(null, "", url);
    });
  });

  if (root.dataset.run) show(root.dataset.run, true);
  else if (examples.length) show(examples[0].name, false);
})();

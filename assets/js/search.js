// The search page: our own form over Pagefind's JS API (no UI framework, nothing from another host).
// Pagefind's files live in <base>/pagefind/; the form's data attributes carry their URL, the site's base
// path (result URLs are site-relative) and the page language's status messages.
const form = document.querySelector(".search-form");
const input = document.getElementById("search-input");
const status = document.getElementById("search-status");
const list = document.getElementById("search-results");
const MAX_RESULTS = 20;

// A large site's index comes in several bundles (see scripts/search.py): parts.json, beside pagefind.js,
// lists the further ones per language key (<html lang>, lower-cased), to be merged into the first.
async function bundleParts(bundleUrl) {
  const response = await fetch(new URL("parts.json", bundleUrl));
  if (!response.ok) return [];
  const parts = await response.json();
  const lang = document.documentElement.lang.toLowerCase();
  return (parts[lang] ?? parts[lang.split("-")[0]] ?? []).map((part) => new URL(part, bundleUrl).pathname);
}

let pagefindReady = null;
function loadPagefind() {
  const bundleUrl = new URL(".", new URL(form.dataset.pagefindSrc, location.href));
  pagefindReady ??= Promise.all([import(form.dataset.pagefindSrc), bundleParts(bundleUrl)])
    .then(async ([pagefind, parts]) => {
      await pagefind.options({ baseUrl: form.dataset.baseUrl });
      for (const part of parts) await pagefind.mergeIndex(part, { baseUrl: form.dataset.baseUrl });
      return pagefind;
    });
  return pagefindReady;
}

// An excerpt is HTML with <mark> around the hits; keep only its text and the marks.
function excerptNodes(html) {
  const template = document.createElement("template");
  template.innerHTML = html;
  return [...template.content.childNodes].map((node) => {
    if (node.nodeName === "MARK") {
      const mark = document.createElement("mark");
      mark.textContent = node.textContent;
      return mark;
    }
    return document.createTextNode(node.textContent);
  });
}

function resultItem(data) {
  const item = document.createElement("li");
  const link = document.createElement("a");
  link.href = data.url;
  link.textContent = data.meta?.title || data.url;
  const excerpt = document.createElement("p");
  excerpt.append(...excerptNodes(data.excerpt || ""));
  item.append(link, excerpt);
  return item;
}

function countMessage(count) {
  if (count === 0) return form.dataset.resultNone;
  return count === 1 ? form.dataset.resultOne : form.dataset.resultMany.replace("{n}", String(count));
}

let latest = 0; // a newer query makes older answers stale
async function runSearch(query) {
  const ticket = ++latest;
  const url = new URL(location.href);
  if (query) url.searchParams.set("q", query); else url.searchParams.delete("q");
  history.replaceState(null, "", url);
  if (!query) {
    list.replaceChildren();
    status.textContent = "";
    return;
  }
  try {
    const pagefind = await loadPagefind();
    const search = await pagefind.search(query);
    const data = await Promise.all(search.results.slice(0, MAX_RESULTS).map((r) => r.data()));
    if (ticket !== latest) return;
    list.replaceChildren(...data.map(resultItem));
    status.textContent = countMessage(search.results.length);
  } catch (error) {
    if (ticket !== latest) return;
    list.replaceChildren();
    status.textContent = form.dataset.resultFailed;
    console.warn("search failed:", error);
  }
}

let typingTimer;
input.addEventListener("input", () => {
  clearTimeout(typingTimer);
  typingTimer = setTimeout(() => runSearch(input.value.trim()), 150);
});
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearTimeout(typingTimer);
  await runSearch(input.value.trim());
  list.querySelector("a")?.focus();
});

const initial = new URLSearchParams(location.search).get("q");
if (initial) {
  input.value = initial;
  runSearch(initial.trim());
}

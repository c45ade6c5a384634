// Example transcripts (the example shortcodes, drawn by _partials/post/example.html): examples marked
// next=true that stand side by side make a set, shown one at a time with Previous and Next buttons (and
// the arrow keys on them), a live region announcing "2 of 5". Without this script every example shows.
(function () {
  "use strict";
  var labels = (document.currentScript && document.currentScript.dataset) || {};

  function position(current, total) {
    return (labels.position || "{current} / {total}").replace("{current}", current).replace("{total}", total);
  }

  function button(className, text) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = className;
    b.textContent = text;
    return b;
  }

  function stepper(set) {
    var current = 0;
    for (var i = 0; i < set.length; i++) {
      if (!set[i].hasAttribute("data-example-hide")) { current = i; break; }
    }
    var nav = document.createElement("div");
    nav.className = "example-nav";
    nav.setAttribute("role", "group");
    nav.setAttribute("aria-label", labels.set || "Examples");
    var prev = button("example-prev", labels.prev || "Previous");
    var next = button("example-next", labels.next || "Next");
    var status = document.createElement("span");
    status.className = "example-status";
    status.setAttribute("aria-live", "polite");
    nav.append(prev, status, next);

    function show(index) {
      current = (index + set.length) % set.length;
      set.forEach(function (example, i) { example.hidden = i !== current; });
      status.textContent = position(current + 1, set.length);
    }
    show(current);
    prev.addEventListener("click", function () { show(current - 1); });
    next.addEventListener("click", function () { show(current + 1); });
    nav.addEventListener("keydown", function (event) {
      if (event.key === "ArrowLeft") { show(current - 1); event.preventDefault(); }
      if (event.key === "ArrowRight") { show(current + 1); event.preventDefault(); }
    });
    set[0].before(nav);
  }

  // A set: consecutive sibling elements (comments and whitespace between them do not count).
  var sets = [];
  document.querySelectorAll("figure.example[data-example-next]").forEach(function (example) {
    var last = sets[sets.length - 1];
    if (last && example.previousElementSibling === last[last.length - 1]) {
      last.push(example);
    } else {
      sets.push([example]);
    }
  });
  sets.forEach(function (set) { if (set.length > 1) { stepper(set); } });
})();

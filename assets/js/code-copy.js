// Copy buttons of code blocks (drawn, hidden, by _markup/render-codeblock.html): show them and copy
// the block's text on click. No framework; the page works without this script.
(function () {
  "use strict";
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Fallback for plain-http hosts: copy through a temporary selection.
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      var ok = document.execCommand("copy");
      document.body.removeChild(area);
      if (ok) { resolve(); } else { reject(new Error("copy failed")); }
    });
  }
  document.querySelectorAll(".code-block .copy-code").forEach(function (button) {
    var code = button.closest(".code-block").querySelector("pre code");
    if (!code) { return; }
    var label = button.textContent;
    var name = button.getAttribute("aria-label");
    button.hidden = false;
    button.addEventListener("click", function () {
      copyText(code.textContent.replace(/\n$/, "")).then(function () {
        // The aria-label would otherwise keep saying "Copy" to a screen reader: swap it too.
        button.textContent = button.dataset.copied;
        button.setAttribute("aria-label", button.dataset.copied);
        setTimeout(function () {
          button.textContent = label;
          if (name) { button.setAttribute("aria-label", name); }
        }, 2000);
      });
    });
  });
})();

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
    button.hidden = false;
    button.addEventListener("click", function () {
      copyText(code.textContent.replace(/\n$/, "")).then(function () {
        button.textContent = button.dataset.copied;
        setTimeout(function () { button.textContent = label; }, 2000);
      });
    });
  });
})();

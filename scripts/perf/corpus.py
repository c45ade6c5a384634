"""A synthetic bilingual blog for the benchmark: N posts like the announcement, written into a copy of the project.

Each post is a page bundle with an English `index.md` and a Chinese `index.zh.md`: the announcement's front
matter, prose of realistic length, headings, about ten links to headings of other posts, figure and button
shortcodes, one Python sample that calls an OpenAI-compatible API the way the announcement's does, a JSON
block, a results table and a BibTeX citation. The same seed always writes the same bytes.

Text comes from small phrase pools combined at random: the tools measured here care about the shape and
size of the content (pages, links, code blocks), not its meaning.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

SECTION = "blog"
LINKS_PER_PAGE = 10
# The working tree's generated or heavy entries that a project copy must not carry over.
NOT_COPIED = {".git", "site", "public", ".cache", ".pytest_cache", "__pycache__", "bench-results",
              ".hugo_build.lock", "node_modules"}

# Parallel pools: the Chinese page of a bundle uses the same indices as the English one.
HEADINGS_EN = (
    "Overview", "Training Data", "Model Architecture", "Pretraining", "Post Training", "Reinforcement Learning",
    "Evaluation", "Long Context", "Multilingual Results", "Coding", "Mathematics", "Inference Efficiency",
    "Safety", "Deployment", "Limitations", "Ablation Studies", "Tool Use", "Agents", "Vision", "Audio",
    "MoE Architecture", "API Access", "Data Filtering", "Tokenizer",
)
HEADINGS_ZH = (
    "概述", "训练数据", "模型架构", "预训练", "后训练", "强化学习",
    "评测", "长上下文", "多语言表现", "代码能力", "数学能力", "推理效率",
    "安全性", "部署", "局限性", "消融实验", "工具调用", "智能体", "视觉", "音频",
    "MoE 架构", "API 调用", "数据过滤", "分词器",
)
MODELS = ("Qwen2.5-Max", "Qwen2.5-Coder", "Qwen2.5-Math", "Qwen2.5-VL", "Qwen2-Audio", "QwQ", "Qwen3",
          "Qwen2.5-Omni", "Qwen2.5-1M", "Qwen2.5-Turbo")
TITLE_EN = ("Scaling {m} to New Limits", "What We Learned Training {m}", "{m}: A Closer Look at {h}",
            "Introducing {m}", "{m} in Practice", "Notes on {h} for {m}")
TITLE_ZH = ("将 {m} 推向新的极限", "训练 {m} 的经验", "{m}：深入{h}", "发布 {m}", "{m} 实践", "关于 {m} {h}的笔记")
TAGS = ("Research", "Release", "LLM", "MoE", "Coding", "Math", "Vision", "Audio", "Agents", "Open Source",
        "Evaluation", "Infrastructure")

SUBJECTS_EN = ("The model", "Our largest model", "The base model", "The instruct model", "The new tokenizer",
               "The reward model", "Each expert", "The router", "The data pipeline", "The evaluation suite",
               "Long-context training", "Reinforcement learning", "Supervised fine-tuning", "The mixture of experts",
               "The vision encoder", "The speech decoder", "Our team", "The smaller variant",
               "Speculative decoding", "Quantization")
VERBS_EN = ("improves", "reduces", "stabilizes", "doubles", "extends", "simplifies", "accelerates", "refines",
            "balances", "strengthens", "measures", "preserves")
OBJECTS_EN = ("accuracy on coding tasks", "the cost of inference", "throughput on long documents",
              "the quality of multilingual answers", "reasoning over mathematical problems",
              "the load across experts", "instruction following", "the memory footprint",
              "the latency of the first token", "agreement with human preferences",
              "robustness to noisy prompts", "recall over a million tokens")
QUALIFIERS_EN = ("without extra compute", "at every scale we tried", "on both public and internal benchmarks",
                 "compared with the previous release", "when the context grows beyond 128K tokens",
                 "after a short warm-up phase", "in most languages we evaluated",
                 "with a carefully designed curriculum", "while keeping the vocabulary unchanged",
                 "across all model sizes")
CONNECTORS_EN = ("In practice, ", "Moreover, ", "As a result, ", "We found that ", "In our experiments, ", "", "",
                 "Notably, ")

SUBJECTS_ZH = ("该模型", "我们最大的模型", "基座模型", "指令模型", "新的分词器", "奖励模型", "每个专家", "路由器",
               "数据管线", "评测体系", "长上下文训练", "强化学习", "监督微调", "混合专家架构", "视觉编码器",
               "语音解码器", "我们的团队", "较小的版本", "投机解码", "量化方案")
VERBS_ZH = ("提升了", "降低了", "稳定了", "扩展了", "简化了", "加速了", "改进了", "平衡了", "增强了", "保持了")
OBJECTS_ZH = ("代码任务上的准确率", "推理成本", "长文档的吞吐量", "多语言回答的质量", "数学推理能力",
              "专家之间的负载", "指令遵循能力", "显存占用", "首个 token 的延迟", "与人类偏好的一致性",
              "对噪声提示的鲁棒性", "百万 token 上下文的召回率")
QUALIFIERS_ZH = ("且没有增加额外的计算量", "这在我们尝试的所有规模上都成立", "在公开和内部基准测试上均是如此",
                 "相比上一个版本更为明显", "当上下文超过 128K token 时尤为突出", "这发生在短暂的预热阶段之后",
                 "在我们评测的大多数语言中都能观察到", "这得益于精心设计的课程学习", "同时保持词表不变",
                 "并且覆盖了所有模型尺寸")
CONNECTORS_ZH = ("在实践中，", "此外，", "因此，", "我们发现，", "在实验中，", "", "", "值得注意的是，")

API_MODELS = ("qwen-max-2025-01-25", "qwen-plus", "qwen-turbo", "qwen2.5-72b-instruct", "qwen2.5-coder-32b-instruct",
              "qwq-32b-preview")
QUESTIONS = ("Which number is larger, 9.11 or 9.8?", "Write a haiku about mixture-of-experts models.",
             "Summarize the idea of reinforcement learning from human feedback in one sentence.",
             "How many r's are in the word strawberry?", "Translate 'large language model' into Chinese.",
             "Give three tips for writing readable Python.", "What is the derivative of x^3?",
             "Explain what a tokenizer does.")
SYSTEM_PROMPTS = ("You are a helpful assistant.", "You are a concise assistant.", "You are an expert programmer.")
BENCHMARKS = ("MMLU-Pro", "GPQA-Diamond", "LiveCodeBench", "LiveBench", "Arena-Hard", "MATH", "HumanEval", "C-Eval")
FIGURE_URLS = ("https://qianwen-res.oss-cn-beijing.aliyuncs.com/Qwen2.5-max-banner.png",
               "https://qianwen-res.oss-cn-beijing.aliyuncs.com/Qwen2.5-max-instruct.jpg",
               "https://qianwen-res.oss-cn-beijing.aliyuncs.com/Qwen2.5-Max.jpeg")
BUTTONS = (("https://chat.qwenlm.ai", "QWEN CHAT"), ("https://huggingface.co/Qwen", "HUGGING FACE"),
           ("https://modelscope.cn/organization/qwen", "MODELSCOPE"), ("https://discord.gg/yPEP2vHTu4", "DISCORD"),
           ("https://github.com/QwenLM", "GITHUB"))
FIRST_DATE = dt.datetime(2021, 1, 4, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
POST_SPACING = dt.timedelta(hours=3, minutes=17)  # 10,000 posts end in 2024: never in the future


@dataclass(frozen=True)
class Heading:
    text: str
    anchor: str  # the id Hugo gives it (autoHeadingIDType: github)


@dataclass(frozen=True)
class Link:
    slug: str  # target post
    anchor: str  # target heading id


@dataclass(frozen=True)
class Page:
    path: Path  # the Markdown file written
    lang: str  # "en" | "zh"
    url: str  # site-relative URL of the page, e.g. /zh/blog/<slug>/
    headings: tuple[Heading, ...]
    links: tuple[Link, ...]  # links to other posts' headings
    python_blocks: int
    json_blocks: int


@dataclass(frozen=True)
class Post:
    slug: str
    heading_indices: tuple[int, ...]  # into HEADINGS_EN / HEADINGS_ZH, in page order
    pages: tuple[Page, ...] = field(default=())


@dataclass(frozen=True)
class Corpus:
    content_dir: Path
    seed: int
    posts: tuple[Post, ...]

    @property
    def pages(self) -> tuple[Page, ...]:
        return tuple(page for post in self.posts for page in post.pages)


def heading_anchor(text: str) -> str:
    """The id Hugo's `github` autoHeadingIDType gives a heading: lower-cased letters and digits kept
    (CJK included), spaces and hyphens become hyphens, everything else dropped."""
    out = []
    for ch in text:
        if ch in " -":
            out.append("-")
        elif ch.isalnum() or ch == "_":
            out.append(ch.lower())
    return "".join(out)


def generate_corpus(content_dir: Path, *, posts: int, seed: int = 0, local_images: bool = True) -> Corpus:
    """Write `posts` bilingual page bundles under `content_dir`/blog/; deterministic for a seed.

    Existing bundles are never overwritten: a slug that already exists is an error.
    """
    if posts < 2:
        raise ValueError("a corpus needs at least 2 posts (they link to each other)")
    section = content_dir / SECTION
    specs = _plan(posts, seed)
    for spec in specs:
        if (section / spec.slug).exists():
            raise FileExistsError(f"{section / spec.slug} already exists")
    written = []
    for number, spec in enumerate(specs):
        bundle = section / spec.slug
        bundle.mkdir(parents=True)
        image = None
        if local_images:
            image = "chart.png"
            (bundle / image).write_bytes(_png(number % 16))
        pages = []
        for lang in ("en", "zh"):
            page_rng = random.Random(f"{seed}:{lang}:{number}")
            text, links, py, js = _render_page(number, spec, specs, lang, page_rng, image)
            path = bundle / ("index.md" if lang == "en" else "index.zh.md")
            path.write_text(text, encoding="utf-8")
            pool = HEADINGS_EN if lang == "en" else HEADINGS_ZH
            headings = tuple(Heading(pool[i], heading_anchor(pool[i])) for i in spec.heading_indices)
            prefix = "" if lang == "en" else "/zh"
            pages.append(Page(path=path, lang=lang, url=f"{prefix}/{SECTION}/{spec.slug}/", headings=headings,
                              links=links, python_blocks=py, json_blocks=js))
        written.append(Post(slug=spec.slug, heading_indices=spec.heading_indices, pages=tuple(pages)))
    return Corpus(content_dir=content_dir, seed=seed, posts=tuple(written))


def copy_project_tree(root: Path, dest: Path) -> Path:
    """Copy the whole project (tasks.py, scripts/, Hugo sources, configs) to `dest`, which must not exist,
    so that `invoke` tasks run there exactly as in the working tree. Build output, caches and .git stay
    behind; node_modules is linked, not copied."""
    def ignore(directory: str, names: list[str]) -> set[str]:
        if Path(directory) == root:
            return {n for n in names if n in NOT_COPIED}
        return {n for n in names if n in ("__pycache__", ".pytest_cache")}

    shutil.copytree(root, dest, ignore=ignore, symlinks=True)
    if (root / "node_modules").is_dir():
        os.symlink(root / "node_modules", dest / "node_modules")
    return dest


def make_bench_project(root: Path, dest: Path, *, posts: int, seed: int = 0, local_images: bool = True) -> Corpus:
    """A copy of the project at `dest` with `posts` generated posts added beside the real ones."""
    copy_project_tree(root, dest)
    return generate_corpus(dest / "content", posts=posts, seed=seed, local_images=local_images)


# --- planning -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    slug: str
    model: str
    heading_indices: tuple[int, ...]
    tags: tuple[str, ...]
    date: dt.datetime
    math: bool


def _plan(posts: int, seed: int) -> list[_Spec]:
    """Slugs and headings of every post first, so that each page can link to the others' headings."""
    rng = random.Random(f"{seed}:plan")
    width = max(4, len(str(posts - 1)))
    specs = []
    for number in range(posts):
        headings = tuple(rng.sample(range(len(HEADINGS_EN)), rng.randint(5, 7)))
        model = rng.choice(MODELS)
        topic = HEADINGS_EN[headings[0]].lower().replace(" ", "-")
        specs.append(_Spec(
            slug=f"post-{number:0{width}d}-{topic}",
            model=model,
            heading_indices=headings,
            tags=tuple(sorted(rng.sample(TAGS, rng.randint(1, 3)))),
            date=FIRST_DATE + number * POST_SPACING + dt.timedelta(minutes=rng.randint(0, 59)),
            math=rng.random() < 0.3,
        ))
    return specs


# --- rendering ------------------------------------------------------------------------------------------


def _front_matter(spec: _Spec, lang: str, rng: random.Random, number: int) -> str:
    h = spec.heading_indices[0]
    if lang == "en":
        title = rng.choice(TITLE_EN).format(m=spec.model, h=HEADINGS_EN[h])
        description = f"{spec.model}: {HEADINGS_EN[h].lower()} and what it means for our models."
    else:
        title = rng.choice(TITLE_ZH).format(m=spec.model, h=HEADINGS_ZH[h])
        description = f"{spec.model}：{HEADINGS_ZH[h]}及其对我们模型的意义。"
    tags = ", ".join(json.dumps(t) for t in spec.tags)
    # The announcement's keys in its order, the same ones commented out; a few set for variety.
    return f"""---
title: {json.dumps(title, ensure_ascii=False)}
date: {spec.date.isoformat()}
weight: {10 + number}
# aliases: ["/first"]
tags: [{tags}]
# draft: true
# comments: false
description: {json.dumps(description, ensure_ascii=False)}
# disable_share: false
# hide_meta: false
# hide_summary: false # to hide summary in list
# hide_footer: false
math: {"true" if spec.math else "false"}
# search_hidden: false # to hide from search page
show_reading_time: true
show_bread_crumbs: true
show_post_nav_links: {"true" if number % 2 else "false"} # the prev/next after the content
show_code_copy_buttons: true
show_word_count: true
# use_hugo_toc: true
# show_toc: true
# toc_open: true # default expand all
# cover:
#     image: "path"
#     alt: "<alt text>"
#     caption: "<text>"
#     relative: true # To use relative path for cover image, used in hugo Page-bundles
#     responsive_images: true
#     hidden: false
# header:
#   background: "" # background css value
#   background_image: ""
#   gradient: false
#   blur: false
---
"""


def _sentence(lang: str, rng: random.Random) -> str:
    if lang == "en":
        connector = rng.choice(CONNECTORS_EN)
        subject = rng.choice(SUBJECTS_EN)
        if connector:
            subject = subject[0].lower() + subject[1:]
        return f"{connector}{subject} {rng.choice(VERBS_EN)} {rng.choice(OBJECTS_EN)} {rng.choice(QUALIFIERS_EN)}."
    return (f"{rng.choice(CONNECTORS_ZH)}{rng.choice(SUBJECTS_ZH)}{rng.choice(VERBS_ZH)}{rng.choice(OBJECTS_ZH)}，"
            f"{rng.choice(QUALIFIERS_ZH)}。")


def _paragraph(lang: str, rng: random.Random, sentences: tuple[int, int] = (2, 5)) -> str:
    joiner = " " if lang == "en" else ""
    return joiner.join(_sentence(lang, rng) for _ in range(rng.randint(*sentences)))


def _link_sentence(lang: str, target: _Spec, heading: int, rng: random.Random) -> str:
    if lang == "en":
        url = f"/{SECTION}/{target.slug}/#{heading_anchor(HEADINGS_EN[heading])}"
        text = f"{HEADINGS_EN[heading].lower()} in the {target.model} post"
        return rng.choice((f"See [{text}]({url}) for details.", f"We described [{text}]({url}) earlier.",
                           f"This builds on [{text}]({url})."))
    url = f"/zh/{SECTION}/{target.slug}/#{heading_anchor(HEADINGS_ZH[heading])}"
    text = f"{target.model} 一文中的{HEADINGS_ZH[heading]}"
    return rng.choice((f"详见[{text}]({url})。", f"我们此前介绍过[{text}]({url})。", f"这一点建立在[{text}]({url})之上。"))


def _python_block(rng: random.Random) -> str:
    model = rng.choice(API_MODELS)
    messages = []
    if rng.random() < 0.8:
        messages.append(f"      {{'role': 'system', 'content': {rng.choice(SYSTEM_PROMPTS)!r}}},")
    messages.append(f"      {{'role': 'user', 'content': {rng.choice(QUESTIONS)!r}}},")
    if rng.random() < 0.3:
        messages.append("      {'role': 'assistant', 'content': 'Could you say more about what you need?'},")
        messages.append("      {'role': 'user', 'content': 'Keep the answer short.'},")
    extra = []
    if rng.random() < 0.5:
        extra.append(f"    temperature={rng.choice((0.2, 0.7, 1.0))},")
    if rng.random() < 0.3:
        extra.append(f"    max_tokens={rng.choice((256, 512, 1024))},")
    printed = rng.choice(("completion.choices[0].message", "completion.choices[0].message.content",
                          "completion.model_dump_json(indent=2)"))
    lines = [
        "``` python",
        "from openai import OpenAI",
        "import os",
        "",
        "client = OpenAI(",
        '    api_key=os.getenv("API_KEY"),',
        '    base_url="https://dashscope.aliyuncs.com/compatible-mode/v1",',
        ")",
        "",
        "completion = client.chat.completions.create(",
        f'    model="{model}",',
        "    messages=[",
        *messages,
        "    ],",
        *extra,
        ")",
        "",
        f"print({printed})",
        "```",
    ]
    return "\n".join(lines)


def _json_block(spec: _Spec, rng: random.Random) -> str:
    scores = {name: round(rng.uniform(40, 95), 1) for name in rng.sample(BENCHMARKS, 4)}
    body = {"model": spec.model, "date": spec.date.date().isoformat(), "scores": scores,
            "context_length": rng.choice((32768, 131072, 1048576))}
    return "```json\n" + json.dumps(body, indent=2, ensure_ascii=False) + "\n```"


def _table(lang: str, spec: _Spec, rng: random.Random) -> str:
    names = rng.sample(BENCHMARKS, 4)
    head = "| Benchmark | " + spec.model + " | Previous |" if lang == "en" else "| 基准测试 | " + spec.model + " | 上一版本 |"
    rows = [f"| {n} | {rng.uniform(50, 95):.1f} | {rng.uniform(40, 90):.1f} |" for n in names]
    return "\n".join([head, "|---|---:|---:|", *rows])


def _render_page(number: int, spec: _Spec, specs: list[_Spec], lang: str, rng: random.Random,
                 image: str | None) -> tuple[str, tuple[Link, ...], int, int]:
    pool = HEADINGS_EN if lang == "en" else HEADINGS_ZH
    others = [i for i in rng.sample(range(len(specs)), min(len(specs), LINKS_PER_PAGE + 1)) if i != number]
    targets = others[:LINKS_PER_PAGE]
    links = []
    link_sentences = []
    for t in targets:
        heading = rng.choice(specs[t].heading_indices)
        link_sentences.append(_link_sentence(lang, specs[t], heading, rng))
        links.append(Link(slug=specs[t].slug, anchor=heading_anchor(pool[heading])))

    parts = [_front_matter(spec, lang, rng, number), ""]
    url = rng.choice(FIGURE_URLS)
    parts.append(f'{{{{< figure src="{url}" width="100%">}}}}\n')
    for href, label in rng.sample(BUTTONS, rng.randint(2, 4)):
        parts.append(f'{{{{< button href="{href}" label="{label}" external=true >}}}}')
    parts.append("\n")
    parts.append(_paragraph(lang, rng, (3, 6)) + "\n")

    sections = len(spec.heading_indices)
    python_at = rng.randrange(sections)
    json_at = (python_at + 1 + rng.randrange(sections - 1)) % sections
    for s, h in enumerate(spec.heading_indices):
        parts.append(f"## {pool[h]}\n")
        for _ in range(rng.randint(2, 3)):
            paragraph = _paragraph(lang, rng)
            # Spread the links over the page: one appended to a paragraph at a time.
            if link_sentences and rng.random() < 0.6:
                paragraph += (" " if lang == "en" else "") + link_sentences.pop()
            parts.append(paragraph + "\n")
        if s == 1 and image:
            alt = f"{spec.model} results" if lang == "en" else f"{spec.model} 的结果"
            parts.append(f'{{{{< figure src="{image}" alt="{alt}" width="100%">}}}}\n')
        if s == 2:
            parts.append(_table(lang, spec, rng) + "\n")
        if s == 3 and spec.math:
            parts.append("$$\n\\mathcal{L} = -\\sum_{t=1}^{T} \\log p_\\theta(x_t \\mid x_{<t})\n$$\n")
        if s == python_at:
            intro = ("Here is an example of calling the model from Python:" if lang == "en"
                     else "以下是使用 Python 调用该模型的示例：")
            parts.append(intro + "\n")
            parts.append(_python_block(rng) + "\n")
        if s == json_at:
            intro = "The scores, as JSON:" if lang == "en" else "评测分数（JSON 格式）："
            parts.append(intro + "\n")
            parts.append(_json_block(spec, rng) + "\n")
    # Links that did not find a paragraph close the page, so every page has all of them.
    if link_sentences:
        parts.append((" " if lang == "en" else "").join(link_sentences) + "\n")
    back = pool[spec.heading_indices[0]]
    parts.append((f"Back to [{back.lower()}](#{heading_anchor(back)})." if lang == "en"
                  else f"返回[{back}](#{heading_anchor(back)})。") + "\n")
    parts.append("\n# " + ("Citation" if lang == "en" else "引用") + "\n")
    parts.append(("If you find our work helpful, please cite it." if lang == "en"
                  else "如果您觉得我们的工作对您有帮助，欢迎引用。") + "\n")
    key = spec.slug.replace("-", "")[:24]
    fence = "```bibtex" if number % 2 else "```"  # the announcement leaves its citation unlabelled
    parts.append(f"{fence}\n@article{{{key},\n  title={{{spec.model} technical report}},\n  author={{Qwen Team}},\n"
                 f"  journal={{arXiv preprint arXiv:24{number % 12 + 1:02d}.{10000 + number % 90000:05d}}},\n"
                 f"  year={{{spec.date.year}}}\n}}\n```\n")
    return "\n".join(parts), tuple(links), 1, 1


_PNG_CACHE: dict[int, bytes] = {}


def _png(variant: int, width: int = 64, height: int = 36) -> bytes:
    """A small valid PNG with a per-variant colour: real image bytes without shipping image files."""
    if variant not in _PNG_CACHE:
        colour = bytes(((variant * 53) % 256, (variant * 97) % 256, 200))
        raw = b"".join(b"\x00" + colour * width for _ in range(height))

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

        _PNG_CACHE[variant] = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                               + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    return _PNG_CACHE[variant]

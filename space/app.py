"""SSSD-ECG Space: generate, look at and download 12-lead ECGs in the browser.

Run locally with ``python space/app.py`` (options: ``--host``, ``--port``, ``--model``, ``--concurrency``).
The model is ``--model``, else ``$SSSD_ECG_MODEL`` (a pipeline folder or Hub id), else the
pipeline bundled with ``sssd_hf`` (``sssd_hf/default_pipeline/``).

This file is only the Gradio wiring.  The logic (model choice, statement choices and presets
derived from the loaded model, request validation, sampling, images and downloads) lives in
:mod:`sssd_hf.app`; samplers come from :mod:`sssd_hf.schedulers.samplers` and download formats
from :data:`sssd_hf.export.EXPORT_FORMATS`, the tables the command line uses too.

API: ``gradio_client.Client(url).predict(api_name="/generate", rhythm=[...], form=[...],
diagnostic=[...], no_statements=False, num_ecgs=2, sampler="dpm", steps=20, seed=0,
guidance=1.0, formats=["wfdb", "csv", "npz"])`` returns ``(gallery, files, summary)``.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import random
import sys
from pathlib import Path
from typing import Optional, Sequence

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from a local server

_HERE = Path(__file__).resolve().parent
if importlib.util.find_spec("sssd_hf") is None:  # not installed (a Space upload): use the package beside app.py
    for _root in (_HERE, _HERE.parent):
        if (_root / "sssd_hf" / "__init__.py").is_file():
            sys.path.insert(0, str(_root))
            break

from sssd_hf.app import (  # noqa: E402
    GROUP_TITLES,
    GROUPS,
    MAX_ECGS,
    MAX_GUIDANCE,
    MAX_SEED,
    OUTPUT_ROOT,
    ModelStore,
    ModelUnavailable,
    RequestError,
    apply_preset,
    default_steps,
    download_formats,
    format_label,
    generate_ecgs,
    merge_groups,
    presets,
    shorten,
    statement_choices,
    validate_request,
)
from sssd_hf.schedulers.samplers import SAMPLERS  # noqa: E402

logger = logging.getLogger("sssd_ecg_space")
MAX_QUEUE = 32


def make_handler(store: ModelStore):
    """The function behind the Generate button (and the ``/generate`` API): inputs as Gradio sends them
    (raw, unprocessed), outputs ``(gallery, files, summary)``; every error becomes a one-line ``gr.Error``."""
    import gradio as gr

    def generate(rhythm, form, diagnostic, no_statements, num_ecgs, sampler, steps, seed, guidance, formats,
                 progress=gr.Progress()):  # noqa: B008 (Gradio's way of asking for a progress bar)
        def report(fraction: float, text: str) -> None:
            progress(fraction, desc=text)

        try:
            pipe, info = store.get()
            request, warnings = validate_request(info, merge_groups(rhythm, form, diagnostic), no_statements,
                                                 num_ecgs, sampler, steps, seed, guidance, formats)
            result = generate_ecgs(request, pipe, info, OUTPUT_ROOT, progress=report)
        except (RequestError, ModelUnavailable) as exc:
            raise gr.Error(str(exc)) from None
        except Exception as exc:  # never show a traceback to a visitor; keep it in the server log
            logger.exception("generation failed")
            raise gr.Error(f"Generation failed ({type(exc).__name__}): {shorten(str(exc), 300)}") from None
        for message in warnings:
            gr.Warning(message)
        # selected_index=0 opens the gallery on the first ECG at full width, thumbnails below.
        return gr.Gallery(value=result.images, selected_index=0), list(result.downloads.values()), \
            result.summary_markdown()

    return generate


def build_demo(store: ModelStore):
    """The Gradio page.  The model is loaded here (once per process) so that the statement lists and
    presets come from its vocabulary; without a model the page says why."""
    import gradio as gr

    try:
        _, info = store.get()
        load_error = None
    except ModelUnavailable as exc:
        info, load_error = None, str(exc)

    # delete_cache: Gradio's copies of served files older than an hour go, checked every hour.
    with gr.Blocks(title="SSSD-ECG: 12-lead ECG generator", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(
            "# SSSD-ECG: generate 12-lead ECGs\n"
            "Conditional diffusion with structured state spaces (SSSD-ECG / SSSD-ECG-nle). Pick PTB-XL "
            "statements, generate 10-second 12-lead ECGs, look at them on ECG paper "
            "(25 mm/s; 10 mm/mV, or 5 or 2.5 when a wave would not fit) "
            "and download them. *Synthetic data: not for clinical use.*"
        )
        if load_error is not None:
            gr.Markdown(f"### No model available\n{load_error}", elem_id="model-error")
            return demo
        gr.Markdown(f"Model: `{info.source}`", elem_id="model-source")
        choices = statement_choices(info.label_names)
        examples = presets(info.label_names)
        formats = download_formats()
        with gr.Row():
            with gr.Column(scale=2):
                preset = gr.Dropdown([name for name, _ in examples], label="Example presets", value=None,
                                     visible=bool(examples), elem_id="preset")
                groups = {
                    g: gr.CheckboxGroup(choices[g], label=f"{GROUP_TITLES[g]} statements", elem_id=f"statements-{g}",
                                        visible=bool(choices[g]))
                    for g in GROUPS
                }
                no_statements = gr.Checkbox(
                    label="No statements (empty label set)" if info.conditional else "No statements (unconditional)",
                    value=not info.conditional, interactive=info.conditional, elem_id="unconditional")
            with gr.Column(scale=1):
                num_ecgs = gr.Slider(1, MAX_ECGS, value=2, step=1, label="Number of ECGs", elem_id="num-ecgs")
                sampler = gr.Radio([(s.label, s.name) for s in SAMPLERS.values()], value=info.default_sampler,
                                   label="Sampler", elem_id="sampler")
                steps = gr.Slider(1, info.num_train_timesteps, value=default_steps(info.default_sampler, info), step=1,
                                  label="Steps", elem_id="steps")
                seed = gr.Number(value=0, precision=0, minimum=0, maximum=MAX_SEED, label="Seed", elem_id="seed")
                dice = gr.Button("Random seed", size="sm")
                # starts at the pipeline's default_guidance_scale (1 = off for a model without guidance)
                guidance = gr.Slider(0.0, max(MAX_GUIDANCE, info.default_guidance), value=info.default_guidance,
                                     step=0.1, visible=info.supports_guidance, label="Guidance scale (1 = off)",
                                     elem_id="guidance")
                download_choice = gr.CheckboxGroup([(format_label(f), f) for f in formats], value=list(formats),
                                                   label="Download formats", elem_id="formats")
                button = gr.Button("Generate", variant="primary", elem_id="generate")
        summary = gr.Markdown(elem_id="summary")
        gallery = gr.Gallery(label="Generated ECGs", columns=MAX_ECGS, height=720, preview=True,
                             object_fit="contain", elem_id="gallery")
        downloads = gr.File(label="Downloads", file_count="multiple", interactive=False, elem_id="downloads")

        def pick_preset(name):
            if not name:
                return [gr.update()] * (len(GROUPS) + 1)
            selected = apply_preset(name, info.label_names)
            return [selected[g] for g in GROUPS] + [False]

        preset.change(pick_preset, inputs=preset, outputs=[*(groups[g] for g in GROUPS), no_statements],
                      api_name=False)
        sampler.change(lambda name: default_steps(name, info), inputs=sampler, outputs=steps, api_name=False)
        dice.click(lambda: random.randint(0, MAX_SEED), outputs=seed, api_name=False)
        # preprocess=False: the values reach validate_request as sent, so that it (not Gradio's choice
        # check, which repeats the whole input) answers bad or huge input with a short message.
        button.click(make_handler(store),
                     inputs=[*(groups[g] for g in GROUPS), no_statements, num_ecgs, sampler, steps, seed, guidance,
                             download_choice],
                     outputs=[gallery, downloads, summary], api_name="generate", concurrency_id="generate",
                     preprocess=False)
    return demo


def build_app(store: ModelStore, concurrency: int = 1, max_queue: int = MAX_QUEUE):
    """:func:`build_demo` behind a queue: at most ``concurrency`` generations run at once and up to
    ``max_queue`` requests wait (later ones are told the queue is full)."""
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be a positive integer, got {concurrency!r}")
    return build_demo(store).queue(default_concurrency_limit=concurrency, max_size=max_queue)


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the SSSD-ECG Space locally.")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--model", help="pipeline folder or Hub id (default: $SSSD_ECG_MODEL, else the bundled one)")
    parser.add_argument("--concurrency", type=int, default=int(os.environ.get("SSSD_ECG_CONCURRENCY", "1")),
                        help="generations run at once (others wait in the queue)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    demo = build_app(ModelStore(args.model), args.concurrency)
    demo.launch(server_name=args.host, server_port=args.port, allowed_paths=[str(OUTPUT_ROOT)])


if __name__ == "__main__":
    main()

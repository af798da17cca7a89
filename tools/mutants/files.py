"""Hand mutants of the loaders (FlowResult.load, the sweep store's records,
[data] file) and the CLI's one-line errors. Run: python tools/hand_mutants.py files"""

RES = "tests/test_result_files.py"
SWEEP = ("tests/test_sweep.py::test_a_truncated_record_is_run_again_and_logged_and_the_summary_is_complete "
         "tests/test_sweep.py::test_foreign_results_and_corrupt_error_records_are_skipped_named_and_rerun "
         "tests/test_sweep.py::test_a_record_of_another_config_under_the_right_name_is_run_again "
         "tests/test_sweep.py::test_a_failure_record_under_another_cells_name_is_skipped "
         "tests/test_sweep.py::test_a_damaged_sweep_json_is_named")
CLI = " ".join(f"tests/test_cli.py::{name}" for name in (
    "test_bad_data_is_one_line_and_exit_2_and_writes_nothing", "test_an_out_that_is_a_file_is_refused_before_running",
    "test_a_config_simulate_refuses_leaves_no_output_folder", "test_the_console_script_prints_no_traceback",
    "test_running_out_of_memory_is_one_line_and_exit_2", "test_cli_rejects_bad_arguments"))

MUTANTS = [
    # -- result.py: FlowResult.load's validation
    ("counts shorter than ts accepted", "w1flow/result.py",
     "    if len(counts) != k:\n", "    if len(counts) > k:\n", RES),
    ("negative counts accepted", "w1flow/result.py",
     "    if np.any(counts < 0):\n", "    if np.any(counts < 0) and False:\n", RES),
    ("counts not adding up to the points accepted", "w1flow/result.py",
     "    if xs.shape[0] != total:\n", "    if xs.shape[0] > total:\n", RES),
    ("parent index equal to the first snapshot's size accepted", "w1flow/result.py",
     "parents.max() >= n0", "parents.max() > n0", RES),
    ("w1 of another length accepted", "w1flow/result.py",
     "    for name in (\"w1\", \"functional\"):\n        if name in arrays and numeric(name, 1).shape != (k,):",
     "    for name in (\"functional\",):\n        if name in arrays and numeric(name, 1).shape != (k,):", RES),
    ("JSON nesting cap ten times higher", "w1flow/result.py",
     "    if depth > MAX_JSON_DEPTH:\n", "    if depth > 10 * MAX_JSON_DEPTH:\n", RES),
    ("brackets inside JSON strings counted", "w1flow/_files.py",
     "    bare = _STRING_RE.sub('\"\"', text).encode()", "    bare = text.encode()", RES),
    ("n_steps of any type accepted", "w1flow/result.py",
     '    "n_steps": (is_count, "an integer >= 0"),', '    "n_steps": (lambda v: True, "an integer >= 0"),', RES),
    ("a truncated archive raises a raw BadZipFile", "w1flow/result.py",
     "    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:\n        raise ResultFileError",
     "    except (OSError, ValueError, EOFError, zlib.error) as exc:\n        raise ResultFileError", RES),
    ("functional without its name accepted", "w1flow/result.py",
     '    if has_name != ("functional" in arrays):', '    if has_name and "functional" not in arrays:', RES),
    # -- sweep/store.py, sweep/summary.py: the store's records
    ("a record counts once it exists (not once it loads)", "w1flow/sweep/store.py",
     "        try:\n            read(path)\n", "        try:\n            path.stat()\n", SWEEP),
    ("record of another fingerprint accepted", "w1flow/sweep/store.py",
     '    if sw.get("fingerprint") != want:', '    if sw.get("fingerprint") is None:', SWEEP),
    ("record of another config under the right name accepted", "w1flow/sweep/store.py",
     "            if got != json.loads(json.dumps(expected)):", "            if got is None:", SWEEP),
    ("failure record of another name accepted", "w1flow/sweep/store.py",
     '    if rec.get("fingerprint") != want:', '    if rec.get("fingerprint") is None:', SWEEP),
    ("an unreadable record is not named by summarize", "w1flow/sweep/store.py",
     "        except ResultFileError as exc:\n            unreadable[path] = exc",
     "        except ResultFileError as exc:\n            pass", SWEEP),
    ("a listed cell with an unreadable record shown as pending", "w1flow/sweep/summary.py",
     '({"status": "unreadable", "error": bad[fp]} if fp in bad else', '({"status": "pending"} if fp in bad else',
     SWEEP),
    ("an unreadable record is not set aside", "w1flow/sweep/store.py",
     "                os.replace(path, aside)\n", "                pass\n", SWEEP),
    # -- config.py: [data] file, n, the output folder
    ("a data file that is a folder reaches np.load", "w1flow/config.py",
     "        if not path.is_file():\n", "        if False:\n", CLI),
    ("strings accepted as points", "w1flow/config.py",
     '    if arr.dtype.kind not in "fiu" or', '    if arr.dtype.kind not in "fiuU" or', CLI),
    ("memory need without the 8 bytes per coordinate", "w1flow/config.py",
     "    need, have = float(n) * dim * 8, _memory_bytes()", "    need, have = float(n) * dim, _memory_bytes()", CLI),
    ("--out that is a file accepted", "w1flow/config.py",
     "    if out.exists() and not out.is_dir():\n", "    if False:\n", CLI),
    ("output folder made before simulate validates", "w1flow/config.py",
     '    _check_out(out)\n    t1, dt = kwargs.pop("t1"), kwargs.pop("dt")',
     '    _check_out(out)\n    out.mkdir(parents=True, exist_ok=True)\n    t1, dt = kwargs.pop("t1"), kwargs.pop("dt")',
     CLI),
    # -- cli.py: one line, exit 2
    ("OSError (missing config) escapes as a traceback", "w1flow/cli.py",
     "    except (ValueError, TypeError, OSError) as exc:", "    except (ValueError, TypeError) as exc:", CLI),
    ("errors printed with argparse's usage line", "w1flow/cli.py",
     "        parser.exit(2, f\"{parser.prog}: error: {' '.join(str(exc).split())}\\n\")",
     "        parser.error(' '.join(str(exc).split()))", CLI),
    ("MemoryError escapes as a traceback", "w1flow/cli.py",
     "    except MemoryError as exc:", "    except ZeroDivisionError as exc:", CLI),
]

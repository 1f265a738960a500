/**
 * State of the Models view, kept at module level so an import keeps reporting while the user
 * looks at another view. The worker owns the registry; this only mirrors `models.list()` and
 * `models.storage()` and drives scan → choose → import.
 */
import { batch, createComputed, createMemo, createResource, createRoot, createSignal } from 'solid-js';
import { createStore, reconcile } from 'solid-js/store';
import { connectStudio } from '../../client/studio-client';
import {
  FAMILY_MAX_DEFAULT_STEPS,
  FamilySettings,
  type ImportOutcome,
  type ImportProgress,
  type ImportSelection,
  type ModelInfo,
  type ModelPatchInput,
  type ModelType,
  type ScanReport,
  type StorageSummary,
} from '../../protocol/models';
import { LIMITS } from '../../protocol/pipeline-config';
import { plainError } from '../format';
import { importModels, modelsApi } from '../lib/models';
import type { PickedFile } from '../lib/pick-files';

/** The user's choices for one scanned model. */
export interface ScanDraft {
  index: number;
  selected: boolean;
  name: string;
  model_type: ModelType | '';
  family?: FamilySettings;
}

export interface ImportRun {
  /** Names of the models being imported, in order. */
  models: string[];
  /** Each model's size from the scan, until its own progress reports give its total. */
  sizes: Record<string, number>;
  /** The import id of the model being stored now (the worker gives one per model). */
  importId: string | null;
  latest: ImportProgress | null;
  byModel: Record<string, ImportProgress>;
}

export function validFamily(family: FamilySettings): string | null {
  // Validity is the protocol's FamilySettings rule; the words say what it allows.
  if (!FamilySettings.shape.default_steps.safeParse(family.default_steps).success) {
    return `Default steps must be a whole number from 1 to ${FAMILY_MAX_DEFAULT_STEPS}.`;
  }
  if (!FamilySettings.shape.default_cfg.safeParse(family.default_cfg).success) {
    return `Default CFG must be a number from ${LIMITS.guidance_scale.min} to ${LIMITS.guidance_scale.max}.`;
  }
  const pad = family.pad_token_id;
  if (!Number.isInteger(pad) || pad < 0) return 'The pad token must be a whole number, 0 or more.';
  return null;
}

function createModelsStore() {
  // ---------- import state (used by the scan's checks below) ----------
  const [run, setRun] = createSignal<ImportRun | null>(null);
  const [cancelling, setCancelling] = createSignal(false);
  const [outcomes, setOutcomes] = createSignal<ImportOutcome[] | null>(null);
  const [importError, setImportError] = createSignal<string | null>(null);
  /** Whether the user cancelled the import whose outcomes are shown. */
  const [outcomesCancelled, setOutcomesCancelled] = createSignal(false);
  const importing = () => run() !== null;

  // ---------- registry listing and storage ----------
  const [wanted, setWanted] = createSignal(false);
  const [list, { refetch: refetchList }] = createResource(wanted, async () => {
    await connectStudio();
    return modelsApi().list();
  });
  const [storage, { refetch: refetchStorage }] = createResource(wanted, async (): Promise<StorageSummary> => {
    await connectStudio();
    return modelsApi().storage();
  });
  // A store reconciled by name: a refresh updates rows in place (open editors survive it).
  const [models, setModels] = createStore<ModelInfo[]>([]);
  createComputed(() => {
    if (list.error) return;
    const latest = list.latest;
    if (latest) setModels(reconcile(latest, { key: 'name' }));
  });
  const names = createMemo(() => new Set(models.map((m) => m.name)));

  const refresh = () => {
    void refetchList();
    void refetchStorage();
  };

  // ---------- scan ----------
  const [scanning, setScanning] = createSignal(false);
  const [scanError, setScanError] = createSignal<string | null>(null);
  const [report, setReport] = createSignal<ScanReport | null>(null);
  const [drafts, setDrafts] = createStore<ScanDraft[]>([]);

  const scan = async (collect: () => Promise<PickedFile[] | null>) => {
    if (scanning() || importing()) return;
    setScanError(null);
    setScanning(true);
    try {
      const files = await collect();
      if (!files) return;
      if (files.length === 0) {
        setScanError('Nothing to import: the selection holds no files.');
        return;
      }
      await connectStudio();
      const next = await modelsApi().scan(files);
      batch(() => {
        setOutcomes(null);
        setImportError(null);
        setReport(next);
        setDrafts(
          reconcile(
            next.models.map((m) => ({
              index: m.index,
              selected: !m.problem && m.model_type !== null,
              name: m.name,
              model_type: m.model_type ?? '',
              family: m.family ? { ...m.family, sources: { ...m.family.sources } } : undefined,
            })),
          ),
        );
      });
    } catch (err) {
      setScanError(`Could not read the files: ${plainError(err)}`);
    } finally {
      setScanning(false);
    }
  };

  const dismissScan = () =>
    batch(() => {
      setReport(null);
      setDrafts([]);
    });

  /** Why each selected draft cannot be imported yet (by index). */
  const draftProblems = createMemo(() => {
    const problems = new Map<number, string>();
    // While importing, the models being imported appear in the registry: no name clash to report.
    if (importing()) return problems;
    const seen = new Map<string, number>();
    for (const d of drafts) {
      if (!d.selected) continue;
      const name = d.name.trim();
      if (!name) problems.set(d.index, 'Give the model a name.');
      else if (names().has(name)) problems.set(d.index, `A model named “${name}” already exists.`);
      else if (seen.has(name)) problems.set(d.index, `Two models are named “${name}”.`);
      else if (d.model_type === '') problems.set(d.index, 'Choose a type.');
      else if (d.model_type === 'checkpoint' && d.family) {
        const bad = validFamily(d.family);
        if (bad) problems.set(d.index, bad);
      }
      seen.set(name, d.index);
    }
    return problems;
  });

  const selections = createMemo<ImportSelection[]>(() =>
    drafts
      .filter((d) => d.selected && d.model_type !== '')
      .map((d) => {
        const selection: ImportSelection = { index: d.index, name: d.name.trim(), model_type: d.model_type as ModelType };
        if (d.model_type === 'checkpoint' && d.family) selection.family = { ...d.family, sources: { ...d.family.sources } };
        return selection;
      }),
  );

  // ---------- import ----------

  // Import ids are per model: a cancel stops the model being stored and every one that starts after.
  const cancelledIds = new Set<string>();
  const cancelId = async (id: string) => {
    if (cancelledIds.has(id)) return;
    cancelledIds.add(id);
    await modelsApi().cancelImport(id);
  };

  const onProgress = (p: ImportProgress) => {
    const current = run();
    if (!current) return;
    const previous = current.byModel[p.model];
    setRun({ ...current, importId: p.import_id, latest: p, byModel: { ...current.byModel, [p.model]: p } });
    // A model changed phase: its row (importing → verified / error) is worth showing now.
    if (previous?.phase !== p.phase) void refetchList();
    if (cancelling() && p.phase === 'storing') cancelId(p.import_id).catch(() => undefined);
  };

  const startImport = async () => {
    const current = report();
    const chosen = selections();
    if (!current || importing() || chosen.length === 0 || draftProblems().size > 0) return;
    batch(() => {
      setImportError(null);
      setOutcomes(null);
      setCancelling(false);
      const sizes: Record<string, number> = {};
      for (const sel of chosen) sizes[sel.name ?? ''] = current.models[sel.index]?.file_size_bytes ?? 0;
      cancelledIds.clear();
      setRun({ models: chosen.map((sel) => sel.name ?? ''), sizes, importId: null, latest: null, byModel: {} });
    });
    try {
      const result = await importModels(current.scan_id, chosen, onProgress);
      batch(() => {
        const cancelled = cancelling();
        setOutcomesCancelled(cancelled);
        setOutcomes(result);
        // After a cancel the choices stay, to import again; otherwise the scan is done with.
        if (!cancelled) dismissScan();
      });
    } catch (err) {
      batch(() => {
        // The scan stays: the user can try again (or discard it).
        if (cancelling()) {
          setOutcomesCancelled(true);
          setOutcomes([]);
        } else {
          setOutcomesCancelled(false);
          setImportError(`The import failed: ${plainError(err)}`);
        }
      });
    } finally {
      batch(() => {
        setRun(null);
        setCancelling(false);
      });
      refresh();
    }
  };

  const cancelImport = async () => {
    const id = run()?.importId;
    if (!id || cancelling()) return;
    setCancelling(true);
    try {
      await cancelId(id);
    } catch (err) {
      setCancelling(false);
      setImportError(`Could not cancel: ${plainError(err)}`);
    }
  };

  // ---------- registry edits (errors are thrown to the caller, in plain words) ----------
  const attempt = async <T>(work: () => Promise<T>, what: string): Promise<T> => {
    try {
      return await work();
    } catch (err) {
      throw new Error(`${what}: ${plainError(err)}`);
    } finally {
      refresh();
    }
  };

  return {
    want: () => {
      if (wanted()) refresh();
      else setWanted(true);
    },
    list,
    storage,
    /** The registry's entries: a store reconciled by name, so rows keep their identity. */
    models: () => models,
    refresh,
    refetchList,

    scanning,
    scanError,
    clearScanError: () => setScanError(null),
    report,
    drafts,
    setDrafts,
    draftProblems,
    selections,
    scan,
    dismissScan,

    run,
    importing,
    cancelling,
    outcomes,
    outcomesCancelled,
    dismissOutcomes: () => batch(() => {
      setOutcomes(null);
      setImportError(null);
    }),
    importError,
    startImport,
    cancelImport,

    rename: (from: string, to: string) => attempt(() => modelsApi().rename(from, to), 'Could not rename'),
    update: (name: string, patch: ModelPatchInput) => attempt(() => modelsApi().update(name, patch), 'Could not save'),
    remove: (name: string) => attempt(() => modelsApi().remove(name), `Could not remove “${name}”`),
    clear: () => attempt(() => modelsApi().clear(), 'Could not remove the models'),
  };
}

export type ModelsStore = ReturnType<typeof createModelsStore>;

let store: ModelsStore | undefined;

export function modelsStore(): ModelsStore {
  store ??= createRoot(() => createModelsStore());
  return store;
}

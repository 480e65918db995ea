import { useMutation, useQueryClient } from '@tanstack/react-query';
import { expectOk, type Project, unwrap } from '@taskman/sdk';
import { type FormEvent, useState } from 'react';
import { Link } from 'react-router';
import { api, fieldError, messageOf } from '../lib/api';
import { useProjects } from '../lib/queries';
import { toast } from '../lib/toast';

export function ProjectsPage() {
  const projects = useProjects();
  const qc = useQueryClient();
  const refresh = () =>
    Promise.all([
      qc.invalidateQueries({ queryKey: ['projects'] }),
      qc.invalidateQueries({ queryKey: ['tasks'] }),
    ]);
  const create = useMutation({
    mutationFn: (body: { name: string; description?: string }) =>
      unwrap(api.POST('/api/v1/projects', { body })),
    onSuccess: refresh,
  });
  const [error, setError] = useState<unknown>();

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const formEl = e.currentTarget;
    const form = new FormData(formEl);
    const description = String(form.get('description') ?? '').trim();
    try {
      setError(undefined);
      await create.mutateAsync({ name: String(form.get('name')), ...(description ? { description } : {}) });
      formEl.reset();
    } catch (err) {
      setError(err);
    }
  }

  return (
    <section className="content content-narrow" aria-labelledby="projects-title">
      <h1 id="projects-title" style={{ marginBottom: 16 }}>
        Projects
      </h1>
      <form className="settings-section stack" onSubmit={submit} aria-label="New project">
        <h2>New project</h2>
        {error !== undefined && (
          <p className="form-error" role="alert">
            {messageOf(error)}
          </p>
        )}
        <label className="field">
          Name
          <input name="name" required maxLength={200} aria-invalid={!!fieldError(error, 'name')} />
        </label>
        <label className="field">
          Description (optional)
          <input name="description" maxLength={10_000} />
        </label>
        <button
          className="btn btn-primary"
          type="submit"
          disabled={create.isPending}
          style={{ alignSelf: 'flex-start' }}
        >
          Create project
        </button>
      </form>
      {projects.isPending && <div className="spinner" role="status" aria-label="Loading projects" />}
      {projects.isError && (
        <p className="form-error" role="alert">
          {messageOf(projects.error)}
        </p>
      )}
      {projects.data?.length === 0 && (
        <div className="empty">
          <h3>No projects yet</h3>
          <p>Projects group tasks: a client, a trip, a house move.</p>
        </div>
      )}
      <ul className="task-list" aria-label="Your projects">
        {projects.data?.map((p) => (
          <ProjectItem key={p.id} project={p} onChanged={refresh} />
        ))}
      </ul>
    </section>
  );
}

function ProjectItem({ project, onChanged }: { project: Project; onChanged: () => Promise<unknown> }) {
  const [editing, setEditing] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<unknown>();

  async function save(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    try {
      await unwrap(
        api.PATCH('/api/v1/projects/{id}', {
          params: { path: { id: project.id } },
          body: {
            name: String(form.get('name')),
            description: String(form.get('description') ?? '') || null,
          },
        }),
      );
      setEditing(false);
      await onChanged();
    } catch (err) {
      setError(err);
    }
  }

  async function remove() {
    try {
      await expectOk(api.DELETE('/api/v1/projects/{id}', { params: { path: { id: project.id } } }));
      toast.show(`Deleted the project “${project.name}”; its tasks are kept.`);
      await onChanged();
    } catch (err) {
      toast.error(messageOf(err));
    }
  }

  if (editing)
    return (
      <li className="task-row" style={{ cursor: 'default' }}>
        <form className="stack" style={{ flex: 1 }} onSubmit={save} aria-label={`Edit ${project.name}`}>
          {error !== undefined && (
            <p className="form-error" role="alert">
              {messageOf(error)}
            </p>
          )}
          <label className="field">
            Name
            <input name="name" defaultValue={project.name} required maxLength={200} autoFocus />
          </label>
          <label className="field">
            Description
            <input name="description" defaultValue={project.description ?? ''} maxLength={10_000} />
          </label>
          <div className="row">
            <button className="btn btn-primary" type="submit">
              Save
            </button>
            <button className="btn" type="button" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </div>
        </form>
      </li>
    );
  return (
    <li className="task-row" style={{ cursor: 'default', alignItems: 'center' }}>
      <div className="task-body">
        <Link to={`/projects/${project.id}`} className="task-title">
          {project.name}
        </Link>
        {project.description && <div className="task-meta">{project.description}</div>}
      </div>
      {confirming ? (
        <div className="row">
          <span className="faint">Delete? Tasks are kept.</span>
          <button className="btn btn-danger" type="button" onClick={remove}>
            Delete
          </button>
          <button className="btn" type="button" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </div>
      ) : (
        <div className="row">
          <button
            className="btn"
            type="button"
            onClick={() => setEditing(true)}
            aria-label={`Edit ${project.name}`}
          >
            Edit
          </button>
          <button
            className="btn btn-danger"
            type="button"
            onClick={() => setConfirming(true)}
            aria-label={`Delete ${project.name}`}
          >
            Delete
          </button>
        </div>
      )}
    </li>
  );
}

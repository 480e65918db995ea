import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What the current request is, wherever its work goes (services, repositories, the queue): the API
 * runs each request inside it, so a job enqueued on its behalf carries its id into the job's logs.
 */
export const requestContext = new AsyncLocalStorage<{ requestId: string }>();

/** The id of the request being served, if any. */
export const currentRequestId = (): string | undefined => requestContext.getStore()?.requestId;

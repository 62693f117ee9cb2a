--
-- PostgreSQL database dump
--


-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: winic_batches; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.winic_batches (
    job_id text NOT NULL,
    idx integer NOT NULL,
    numbers text NOT NULL,
    size integer NOT NULL,
    state text NOT NULL,
    message_id text,
    code text,
    error text,
    source text,
    owner text,
    started_at text,
    started_epoch double precision,
    finished_at text
);


--
-- Name: winic_inbox; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.winic_inbox (
    seq bigint NOT NULL,
    id text NOT NULL,
    kind text NOT NULL,
    endpoint text NOT NULL,
    uid text NOT NULL,
    operation text NOT NULL,
    message_id text,
    mobile text,
    status text,
    payload text NOT NULL,
    raw text NOT NULL,
    pulled_at text NOT NULL,
    pulled_epoch double precision NOT NULL,
    state text DEFAULT 'pending'::text NOT NULL,
    lease_owner text,
    lease_until double precision,
    attempts integer DEFAULT 0 NOT NULL,
    last_error text,
    done_at text
);


--
-- Name: winic_inbox_seq_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.winic_inbox ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.winic_inbox_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: winic_jobs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.winic_jobs (
    id text NOT NULL,
    operation text NOT NULL,
    text text NOT NULL,
    options text NOT NULL,
    endpoint text NOT NULL,
    uid text NOT NULL,
    created_at text NOT NULL
);


--
-- Name: winic_pollers; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.winic_pollers (
    endpoint text NOT NULL,
    uid text NOT NULL,
    owner text NOT NULL,
    lease_until double precision NOT NULL,
    since text NOT NULL
);


--
-- Data for Name: winic_batches; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.winic_batches (job_id, idx, numbers, size, state, message_id, code, error, source, owner, started_at, started_epoch, finished_at) VALUES ('job-v1-a', 4, '13800000006', 1, 'new', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO public.winic_batches (job_id, idx, numbers, size, state, message_id, code, error, source, owner, started_at, started_epoch, finished_at) VALUES ('job-v1-a', 0, '13800000001,13800000002', 2, 'accepted', '1000000000000000', NULL, NULL, 'send', 'host/1/-/abc', '2026-09-21T14:13:27.000+00:00', 1790000007, '2026-09-21T14:13:28.000+00:00');
INSERT INTO public.winic_batches (job_id, idx, numbers, size, state, message_id, code, error, source, owner, started_at, started_epoch, finished_at) VALUES ('job-v1-a', 1, '13800000003', 1, 'failed', NULL, '-02', 'refused', NULL, 'host/1/-/abc', '2026-09-21T14:13:29.000+00:00', 1790000009, '2026-09-21T14:13:30.000+00:00');
INSERT INTO public.winic_batches (job_id, idx, numbers, size, state, message_id, code, error, source, owner, started_at, started_epoch, finished_at) VALUES ('job-v1-a', 2, '13800000004', 1, 'unknown', NULL, NULL, 'read timeout', NULL, 'host/1/-/abc', '2026-09-21T14:13:31.000+00:00', 1790000011, '2026-09-21T14:13:32.000+00:00');
INSERT INTO public.winic_batches (job_id, idx, numbers, size, state, message_id, code, error, source, owner, started_at, started_epoch, finished_at) VALUES ('job-v1-a', 3, '13800000005', 1, 'sending', NULL, NULL, NULL, NULL, 'host/1/-/abc', '2026-09-21T14:13:33.000+00:00', 1790000013, NULL);
INSERT INTO public.winic_batches (job_id, idx, numbers, size, state, message_id, code, error, source, owner, started_at, started_epoch, finished_at) VALUES ('job-v1-b', 0, '13900000009', 1, 'accepted', '1000000000000009', NULL, NULL, 'send', NULL, '2026-09-21T14:13:34.000+00:00', 1790000014, '2026-09-21T14:13:34.000+00:00');


--
-- Data for Name: winic_inbox; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.winic_inbox (seq, id, kind, endpoint, uid, operation, message_id, mobile, status, payload, raw, pulled_at, pulled_epoch, state, lease_owner, lease_until, attempts, last_error, done_at) OVERRIDING SYSTEM VALUE VALUES (4, '01a0c450-6c00-7821-83c8-6c8ae6bfa6ec', 'reply', 'https://svc/', 'u1', 'GET_SMS_MO', NULL, '13800138003', NULL, '{"mobile": "13800138003", "text": "reply 3 code 4711", "port": "1", "received_at": "2026-09-21T10:00:00+08:00"}', 'raw-reply-3', '2026-09-21T14:13:20.000+00:00', 1790000000, 'pending', NULL, NULL, 0, NULL, NULL);
INSERT INTO public.winic_inbox (seq, id, kind, endpoint, uid, operation, message_id, mobile, status, payload, raw, pulled_at, pulled_epoch, state, lease_owner, lease_until, attempts, last_error, done_at) OVERRIDING SYSTEM VALUE VALUES (5, '01a0c450-6fe8-7c9d-856a-56d69c3690d6', 'report', 'https://svc/', 'u1', 'SMS_Reports', '1000000000000000', '13900139000', 'DELIVRD', '{"message_id": "1000000000000000", "uid": "u1", "mobile": "13900139000", "status": "DELIVRD", "at": "2026-09-21T10:00:00+08:00"}', 'r0', '2026-09-21T14:13:21.000+00:00', 1790000001, 'pending', NULL, NULL, 0, NULL, NULL);
INSERT INTO public.winic_inbox (seq, id, kind, endpoint, uid, operation, message_id, mobile, status, payload, raw, pulled_at, pulled_epoch, state, lease_owner, lease_until, attempts, last_error, done_at) OVERRIDING SYSTEM VALUE VALUES (6, '01a0c450-6fe8-7271-8b80-aa82eb363dd9', 'report', 'https://svc/', 'u1', 'SMS_Reports', '1000000000000001', '13900139001', 'DELIVRD', '{"message_id": "1000000000000001", "uid": "u1", "mobile": "13900139001", "status": "DELIVRD", "at": "2026-09-21T10:00:00+08:00"}', 'r1', '2026-09-21T14:13:21.000+00:00', 1790000001, 'pending', NULL, NULL, 0, NULL, NULL);
INSERT INTO public.winic_inbox (seq, id, kind, endpoint, uid, operation, message_id, mobile, status, payload, raw, pulled_at, pulled_epoch, state, lease_owner, lease_until, attempts, last_error, done_at) OVERRIDING SYSTEM VALUE VALUES (7, '01a0c450-6fe8-75da-b79e-c0143858a2ec', 'report', 'https://svc/', 'u1', 'SMS_Reports', '1000000000000002', '13900139002', 'DELIVRD', '{"message_id": "1000000000000002", "uid": "u1", "mobile": "13900139002", "status": "DELIVRD", "at": "2026-09-21T10:00:00+08:00"}', 'r2', '2026-09-21T14:13:21.000+00:00', 1790000001, 'pending', NULL, NULL, 0, NULL, NULL);
INSERT INTO public.winic_inbox (seq, id, kind, endpoint, uid, operation, message_id, mobile, status, payload, raw, pulled_at, pulled_epoch, state, lease_owner, lease_until, attempts, last_error, done_at) OVERRIDING SYSTEM VALUE VALUES (1, '01a0c450-6c00-7463-a8a7-96e9babab3ce', 'reply', 'https://svc/', 'u1', 'GET_SMS_MO', NULL, '13800138000', NULL, '{"mobile": "13800138000", "text": "reply 0 code 4711", "port": "1", "received_at": "2026-09-21T10:00:00+08:00"}', 'raw-reply-0', '2026-09-21T14:13:20.000+00:00', 1790000000, 'done', NULL, NULL, 1, NULL, '2026-09-21T14:13:24.000+00:00');
INSERT INTO public.winic_inbox (seq, id, kind, endpoint, uid, operation, message_id, mobile, status, payload, raw, pulled_at, pulled_epoch, state, lease_owner, lease_until, attempts, last_error, done_at) OVERRIDING SYSTEM VALUE VALUES (2, '01a0c450-6c00-7294-bd08-d3678f0f320c', 'reply', 'https://svc/', 'u1', 'GET_SMS_MO', NULL, '13800138001', NULL, '{"mobile": "13800138001", "text": "reply 1 code 4711", "port": "1", "received_at": "2026-09-21T10:00:00+08:00"}', 'raw-reply-1', '2026-09-21T14:13:20.000+00:00', 1790000000, 'done', NULL, NULL, 1, NULL, '2026-09-21T14:13:25.000+00:00');
INSERT INTO public.winic_inbox (seq, id, kind, endpoint, uid, operation, message_id, mobile, status, payload, raw, pulled_at, pulled_epoch, state, lease_owner, lease_until, attempts, last_error, done_at) OVERRIDING SYSTEM VALUE VALUES (3, '01a0c450-6c00-7ab9-97f6-d0ce79c16d3d', 'reply', 'https://svc/', 'u1', 'GET_SMS_MO', NULL, '13800138002', NULL, '{"mobile": "13800138002", "text": "reply 2 code 4711", "port": "1", "received_at": "2026-09-21T10:00:00+08:00"}', 'raw-reply-2', '2026-09-21T14:13:20.000+00:00', 1790000000, 'pending', NULL, NULL, 1, 'handler exit 1', NULL);


--
-- Data for Name: winic_jobs; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.winic_jobs (id, operation, text, options, endpoint, uid, created_at) VALUES ('job-v1-a', 'Send_SMS', 'your code 123456', '{"at": null, "ext": null}', 'https://svc/', 'u1', '2026-09-21T14:13:26.000+00:00');
INSERT INTO public.winic_jobs (id, operation, text, options, endpoint, uid, created_at) VALUES ('job-v1-b', 'Send_SMS', 'done 777', '{}', '', '', '2026-09-21T14:13:34.000+00:00');


--
-- Data for Name: winic_pollers; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.winic_pollers (endpoint, uid, owner, lease_until, since) VALUES ('https://svc/', 'u1', 'host/1/-/abc', 1790000615, '2026-09-21T14:13:35.000+00:00');


--
-- Name: winic_inbox_seq_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.winic_inbox_seq_seq', 7, true);


--
-- Name: winic_batches winic_batches_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.winic_batches
    ADD CONSTRAINT winic_batches_pkey PRIMARY KEY (job_id, idx);


--
-- Name: winic_inbox winic_inbox_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.winic_inbox
    ADD CONSTRAINT winic_inbox_id_key UNIQUE (id);


--
-- Name: winic_inbox winic_inbox_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.winic_inbox
    ADD CONSTRAINT winic_inbox_pkey PRIMARY KEY (seq);


--
-- Name: winic_jobs winic_jobs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.winic_jobs
    ADD CONSTRAINT winic_jobs_pkey PRIMARY KEY (id);


--
-- Name: winic_pollers winic_pollers_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.winic_pollers
    ADD CONSTRAINT winic_pollers_pkey PRIMARY KEY (endpoint, uid);


--
-- Name: winic_batches_message; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX winic_batches_message ON public.winic_batches USING btree (message_id);


--
-- Name: winic_batches_state; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX winic_batches_state ON public.winic_batches USING btree (state, job_id, idx);


--
-- Name: winic_inbox_attempts; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX winic_inbox_attempts ON public.winic_inbox USING btree (state, attempts);


--
-- Name: winic_inbox_leases; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX winic_inbox_leases ON public.winic_inbox USING btree (state, lease_until);


--
-- Name: winic_inbox_message; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX winic_inbox_message ON public.winic_inbox USING btree (message_id);


--
-- Name: winic_inbox_ready; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX winic_inbox_ready ON public.winic_inbox USING btree (state, seq);


--
-- PostgreSQL database dump complete
--



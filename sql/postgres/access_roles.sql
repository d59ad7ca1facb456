-- PostgreSQL only: group roles of the warehouse (idempotent). Run as one script.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ep_engineer') THEN
    CREATE ROLE ep_engineer NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ep_analyst') THEN
    CREATE ROLE ep_analyst NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ep_partner_coordinator') THEN
    CREATE ROLE ep_partner_coordinator NOLOGIN;
  END IF;
END
$$;

from quadro.cli import main

raise SystemExit(main())

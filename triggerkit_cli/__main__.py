from triggerkit_cli.main import main

raise SystemExit(main())
